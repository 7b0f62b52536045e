import CofferAWS
import CofferHTTP
import Foundation
import Testing

/// The shared config and credentials files: parsing, merging, profile selection, and the profile provider.
@Suite("Credentials: shared config files")
struct CredentialsSharedConfigTests {
    /// A transport that must not be used (no STS call expected).
    static let noNetwork = ScriptedTransport { request in
        Issue.record("unexpected request \(request.method) \(request.url)")
        return HTTPResponse(status: 599)
    }

    @Test("comments, whitespace, key case, sections and continuation lines")
    func parsing() throws {
        let config = """
        # a comment
        ; another comment
        [default]
        region = eu-west-1   # trailing comment
        Output=json

        [profile dev]   ; comment after the header
          REGION   =   us-west-2
        s3 =
          max_concurrent_requests = 20
        role_arn = arn:aws:iam::123456789012:role/dev#not-a-comment
        [sso-session corp]
        sso_region = us-east-1
        [plain]
        region = ignored-in-config
        """
        let credentials = """
        [default]
        aws_access_key_id = AKIDDEFAULT
        aws_secret_access_key = secret;with;semicolons
        [dev]
        aws_access_key_id=AKIDDEV
        aws_secret_access_key=devsecret
        """
        let shared = try AWSSharedConfig.parse(configText: config, credentialsText: credentials)
        #expect(Set(shared.profiles.keys) == ["default", "dev"])
        let defaultProfile = try #require(shared.profile("default"))
        #expect(defaultProfile.region == "eu-west-1")
        #expect(defaultProfile["output"] == "json")
        #expect(defaultProfile.accessKeyId == "AKIDDEFAULT")
        #expect(defaultProfile.secretAccessKey == "secret;with;semicolons")
        #expect(defaultProfile.sourceFiles == ["config", "credentials"])
        let dev = try #require(shared.profile("dev"))
        #expect(dev.region == "us-west-2")
        #expect(dev["s3"] == "\nmax_concurrent_requests = 20")
        #expect(dev.roleArn == "arn:aws:iam::123456789012:role/dev#not-a-comment")
        #expect(dev.accessKeyId == "AKIDDEV")
        // Descriptions never show values.
        #expect(!String(describing: dev).contains("devsecret"))
    }

    @Test("the credentials file wins over the config file, key by key; [profile default] wins over [default]")
    func precedence() throws {
        let config = """
        [default]
        region = from-plain-default
        [profile default]
        region = us-east-2
        aws_access_key_id = AKIDCONFIG
        aws_secret_access_key = configsecret
        aws_session_token = configtoken
        """
        let credentials = """
        [default]
        aws_access_key_id = AKIDCREDS
        aws_secret_access_key = credssecret
        """
        let profile = try #require(try AWSSharedConfig.parse(configText: config, credentialsText: credentials).profile("default"))
        #expect(profile.region == "us-east-2")
        #expect(profile.accessKeyId == "AKIDCREDS")
        #expect(profile.secretAccessKey == "credssecret")
        #expect(profile.sessionToken == "configtoken")
    }

    @Test("malformed lines are reported with file and line number")
    func malformed() {
        #expect(throws: CredentialsError.invalidConfiguration("/x/config line 2: expected 'key = value', a '[section]' or a comment")) {
            _ = try AWSSharedConfig.parse(configText: "[default]\nnot a setting\n", credentialsText: nil, configFilePath: "/x/config")
        }
        #expect(throws: CredentialsError.invalidConfiguration("/x/credentials line 1: a setting outside of any [profile] section")) {
            _ = try AWSSharedConfig.parse(configText: nil, credentialsText: "key = value\n", credentialsFilePath: "/x/credentials")
        }
        #expect(throws: CredentialsError.self) {
            _ = try AWSSharedConfig.parse(configText: "[profile x\n", credentialsText: nil)
        }
    }

    @Test("file locations from AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE, HOME, and the selected profile and region")
    func locations() async throws {
        #expect(AWSSharedConfig.configFilePath(environment: ["HOME": "/home/u"]) == "/home/u/.aws/config")
        #expect(AWSSharedConfig.credentialsFilePath(environment: ["HOME": "/home/u"]) == "/home/u/.aws/credentials")
        #expect(AWSSharedConfig.configFilePath(environment: ["AWS_CONFIG_FILE": "~/c", "HOME": "/h"]) == "/h/c")
        #expect(AWSSharedConfig.selectedProfileName(environment: [:]) == "default")
        #expect(AWSSharedConfig.selectedProfileName(environment: ["AWS_PROFILE": "p"]) == "p")
        #expect(AWSSharedConfig.selectedProfileName(environment: ["AWS_PROFILE": "p"], explicit: "q") == "q")

        let files = try TemporaryAWSFiles(config: "[profile p]\nregion = ap-south-1\n[default]\nregion = eu-north-1\n")
        defer { files.remove() }
        #expect(try await AWSSharedConfig.resolveRegion(environment: files.environment()) == "eu-north-1")
        #expect(try await AWSSharedConfig.resolveRegion(environment: files.environment(["AWS_PROFILE": "p"])) == "ap-south-1")
        #expect(try await AWSSharedConfig.resolveRegion(environment: files.environment(), explicitProfile: "p") == "ap-south-1")
        #expect(try await AWSSharedConfig.resolveRegion(environment: files.environment(["AWS_REGION": "sa-east-1"])) == "sa-east-1")
        #expect(try await AWSSharedConfig.resolveRegion(environment: files.environment(["AWS_DEFAULT_REGION": "af-south-1"]))
                == "af-south-1")
        let loaded = try await AWSSharedConfig.load(environment: files.environment())
        #expect(loaded.profile("p")?.sourceFiles == [files.configPath])
        // A missing credentials file is an empty one.
        #expect(loaded.credentialsFilePath == files.credentialsPath)
    }

    @Test("static keys from a profile in real files, chosen by name or AWS_PROFILE")
    func staticProfile() async throws {
        let files = try TemporaryAWSFiles(
            config: "[profile work]\nregion = eu-west-3\naws_access_key_id = AKIDFROMCONFIG\naws_secret_access_key = c\n",
            credentials: "[default]\naws_access_key_id = AKIDDEF\naws_secret_access_key = d\n"
                + "[work]\naws_access_key_id = AKIDWORK\naws_secret_access_key = w\naws_session_token = t\n")
        defer { files.remove() }
        let context = CredentialsContext(environment: files.environment(), transport: Self.noNetwork)
        let byDefault = try await ProfileCredentialsProvider(context: context).credentials()
        #expect(byDefault == AWSCredentials(accessKeyId: "AKIDDEF", secretAccessKey: "d"))
        let named = try await ProfileCredentialsProvider(profile: "work", context: context).credentials()
        #expect(named == AWSCredentials(accessKeyId: "AKIDWORK", secretAccessKey: "w", sessionToken: "t"))
        let viaEnvironment = CredentialsContext(environment: files.environment(["AWS_PROFILE": "work"]), transport: Self.noNetwork)
        #expect(try await ProfileCredentialsProvider(context: viaEnvironment).credentials().accessKeyId == "AKIDWORK")
    }

    @Test("a missing named profile is an error listing the files and the profiles; a missing default is 'not configured'")
    func missingProfile() async throws {
        let files = try TemporaryAWSFiles(config: "[profile alpha]\nregion = x\n", credentials: "[beta]\naws_access_key_id = A\naws_secret_access_key = B\n")
        defer { files.remove() }
        let context = CredentialsContext(environment: files.environment(), transport: Self.noNetwork)
        do {
            _ = try await ProfileCredentialsProvider(profile: "prod", context: context).credentials()
            Issue.record("expected an error")
        } catch {
            guard case .invalidConfiguration(let message) = error else { Issue.record("wrong error \(error)"); return }
            #expect(message.contains("profile 'prod' not found"))
            #expect(message.contains(files.configPath) && message.contains(files.credentialsPath))
            #expect(message.contains("alpha, beta"))
            #expect(message.contains("--profile or AWS_PROFILE"))
        }
        // AWS_PROFILE naming a missing profile is as explicit as --profile.
        let viaEnvironment = CredentialsContext(environment: files.environment(["AWS_PROFILE": "nope"]), transport: Self.noNetwork)
        await #expect(throws: CredentialsError.self) { _ = try await ProfileCredentialsProvider(context: viaEnvironment).credentials() }
        do {
            _ = try await ProfileCredentialsProvider(context: context).credentials()
            Issue.record("expected an error")
        } catch {
            guard case .notConfigured = error else { Issue.record("wrong error \(error)"); return }
        }
    }

    @Test("incomplete keys, unsupported settings and bad role settings say what to fix")
    func invalidProfiles() async throws {
        let config = """
        [profile halfkey]
        aws_access_key_id = AKIDONLY
        [profile process]
        credential_process = /bin/creds
        [profile sso]
        sso_session = corp
        [profile mfa]
        role_arn = arn:aws:iam::123456789012:role/r
        source_profile = halfkey
        mfa_serial = arn:aws:iam::123456789012:mfa/u
        [profile orphanrole]
        role_arn = arn:aws:iam::123456789012:role/r
        [profile both]
        role_arn = arn:aws:iam::123456789012:role/r
        source_profile = halfkey
        credential_source = Environment
        [profile badsource]
        role_arn = arn:aws:iam::123456789012:role/r
        credential_source = Laptop
        [profile missingsource]
        role_arn = arn:aws:iam::123456789012:role/r
        source_profile = ghost
        [profile emptysource]
        role_arn = arn:aws:iam::123456789012:role/r
        source_profile = regiononly
        [profile regiononly]
        region = us-east-1
        """
        let files = try TemporaryAWSFiles(config: config)
        defer { files.remove() }
        let context = CredentialsContext(environment: files.environment(), transport: Self.noNetwork)
        let expectations: [(String, String)] = [
            ("halfkey", "has aws_access_key_id but no aws_secret_access_key"),
            ("process", "credential_process, which Coffer does not support"),
            ("sso", "IAM Identity Center (SSO)"),
            ("mfa", "mfa_serial"),
            ("orphanrole", "has role_arn but no source_profile, credential_source or web_identity_token_file"),
            ("both", "sets both source_profile and credential_source"),
            ("badsource", "credential_source 'Laptop' is not one of"),
            ("missingsource", "has source_profile 'ghost', but profile 'ghost' not found"),
            ("emptysource", "used as source_profile by profile 'emptysource', has no credentials"),
        ]
        for (name, fragment) in expectations {
            do {
                _ = try await ProfileCredentialsProvider(profile: name, context: context).credentials()
                Issue.record("profile \(name): expected an error")
            } catch {
                guard case .invalidConfiguration(let message) = error else {
                    Issue.record("profile \(name): wrong error \(error)")
                    continue
                }
                #expect(message.contains(fragment), "profile \(name): \(message)")
            }
        }
        // A profile with only a region has no credentials: the chain moves on.
        do {
            _ = try await ProfileCredentialsProvider(profile: "regiononly", context: context).credentials()
            Issue.record("expected an error")
        } catch {
            guard case .notConfigured = error else { Issue.record("wrong error \(error)"); return }
        }
    }

    @Test("source_profile cycles are detected and the loop is named")
    func cycles() async throws {
        let config = """
        [profile a]
        role_arn = arn:aws:iam::123456789012:role/a
        source_profile = b
        [profile b]
        role_arn = arn:aws:iam::123456789012:role/b
        source_profile = c
        [profile c]
        role_arn = arn:aws:iam::123456789012:role/c
        source_profile = a
        [profile selfish]
        role_arn = arn:aws:iam::123456789012:role/s
        source_profile = selfish
        """
        let files = try TemporaryAWSFiles(config: config)
        defer { files.remove() }
        let context = CredentialsContext(environment: files.environment(), transport: Self.noNetwork)
        await #expect(throws: CredentialsError.invalidConfiguration(
            "source_profile settings form a cycle: 'a' -> 'b' -> 'c' -> 'a'. Give one of these profiles static keys "
                + "(aws_access_key_id, aws_secret_access_key) to end the chain")) {
            _ = try await ProfileCredentialsProvider(profile: "a", context: context).credentials()
        }
        do {
            _ = try await ProfileCredentialsProvider(profile: "selfish", context: context).credentials()
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("'selfish' -> 'selfish'"))
        }
    }

    @Test("role_arn + source_profile chains call AssumeRole in order, each signed with the previous credentials")
    func assumeRoleChain() async throws {
        let config = """
        [profile top]
        role_arn = arn:aws:iam::123456789012:role/top
        source_profile = middle
        role_session_name = top-session
        external_id = ext-42
        duration_seconds = 1800
        region = eu-central-1
        [profile middle]
        role_arn = arn:aws:iam::123456789012:role/middle
        source_profile = base
        [profile base]
        role_arn = arn:aws:iam::123456789012:role/ignored-because-base-has-keys
        source_profile = top
        """
        let credentials = "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = basesecret\n"
        let files = try TemporaryAWSFiles(config: config, credentials: credentials)
        defer { files.remove() }
        let transport = ScriptedTransport { request in
            let form = ScriptedTransport.form(request)
            let role = form["RoleArn"]?.split(separator: "/").last.map(String.init) ?? "?"
            return ScriptedTransport.stsSuccess(action: "AssumeRole", accessKeyId: "ASIA" + role.uppercased())
        }
        let context = CredentialsContext(environment: files.environment(), transport: transport,
                                         stsEndpoint: "http://127.0.0.1:9/sts")
        let provider = ProfileCredentialsProvider(profile: "top", context: context)
        let result = try await provider.credentials()
        #expect(result.accessKeyId == "ASIATOP")
        #expect(result.sessionToken == "token-ASIATOP")
        #expect(result.expiration == Date(timeIntervalSince1970: 1_893_456_000))
        let description = try await provider.resolutionDescription()
        #expect(description.contains("assume role arn:aws:iam::123456789012:role/top"))
        #expect(description.contains("static keys of profile 'base'"))

        let requests = transport.requests
        try #require(requests.count == 2)
        #expect(requests.map { $0.url } == ["http://127.0.0.1:9/sts/", "http://127.0.0.1:9/sts/"])
        #expect(ScriptedTransport.form(requests[0])["RoleArn"] == "arn:aws:iam::123456789012:role/middle")
        #expect(signingAccessKey(requests[0]) == "AKIDBASE")
        #expect(requests[0].headers["X-Amz-Security-Token"] == nil)
        let top = ScriptedTransport.form(requests[1])
        #expect(top == ["Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": "arn:aws:iam::123456789012:role/top",
                        "RoleSessionName": "top-session", "ExternalId": "ext-42", "DurationSeconds": "1800"])
        #expect(signingAccessKey(requests[1]) == "ASIAMIDDLE")
        #expect(requests[1].headers["X-Amz-Security-Token"] == "token-ASIAMIDDLE")
        // Signed for STS in the profile's region.
        #expect(requests[1].headers["Authorization"]?.contains("/eu-central-1/sts/aws4_request") == true)

        // Resolved once and cached: a second call sends nothing.
        _ = try await provider.credentials()
        #expect(transport.requests.count == 2)
    }

    @Test("a profile may use its own static keys to assume its role; credential_source = Environment")
    func selfReferenceAndCredentialSource() async throws {
        let config = """
        [profile self]
        role_arn = arn:aws:iam::123456789012:role/self
        source_profile = self
        aws_access_key_id = AKIDSELF
        aws_secret_access_key = selfsecret
        [profile fromenv]
        role_arn = arn:aws:iam::123456789012:role/fromenv
        credential_source = Environment
        """
        let files = try TemporaryAWSFiles(config: config)
        defer { files.remove() }
        let transport = ScriptedTransport { request in
            let role = ScriptedTransport.form(request)["RoleArn"]?.split(separator: "/").last.map(String.init) ?? "?"
            return ScriptedTransport.stsSuccess(action: "AssumeRole", accessKeyId: "ASIA" + role.uppercased())
        }
        let environment = files.environment(["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "envsecret"])
        let context = CredentialsContext(environment: environment, transport: transport, stsEndpoint: "http://127.0.0.1:9")
        #expect(try await ProfileCredentialsProvider(profile: "self", context: context).credentials().accessKeyId == "ASIASELF")
        #expect(signingAccessKey(transport.requests[0]) == "AKIDSELF")
        #expect(try await ProfileCredentialsProvider(profile: "fromenv", context: context).credentials().accessKeyId == "ASIAFROMENV")
        #expect(signingAccessKey(transport.requests[1]) == "AKIDENV")
    }

    @Test("AccessDenied from STS names the role and the source profile, and gives a hint")
    func accessDenied() async throws {
        let config = """
        [profile target]
        role_arn = arn:aws:iam::123456789012:role/locked
        source_profile = dev
        """
        let files = try TemporaryAWSFiles(config: config, credentials: "[dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = s\n")
        defer { files.remove() }
        let transport = ScriptedTransport { _ in
            ScriptedTransport.stsError(status: 403, code: "AccessDenied",
                                       message: "User: arn:aws:iam::123456789012:user/dev is not authorized to perform: sts:AssumeRole")
        }
        let context = CredentialsContext(environment: files.environment(), transport: transport, stsEndpoint: "http://127.0.0.1:9")
        do {
            _ = try await ProfileCredentialsProvider(profile: "target", context: context).credentials()
            Issue.record("expected an error")
        } catch {
            guard case .fetchFailed(let message) = error else { Issue.record("wrong error \(error)"); return }
            #expect(message.contains("arn:aws:iam::123456789012:role/locked"))
            #expect(message.contains("source profile 'dev'"))
            #expect(message.contains("AccessDenied"))
            #expect(message.contains("trust policy"))
            #expect(!message.contains("s\n"))
        }
        #expect(transport.requests.count == 1, "AccessDenied is not retried")
    }
}
