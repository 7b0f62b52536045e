import CofferTestSupport
import Foundation
import Testing

/// The container example in `examples/compose/` without a container runtime: the compose file's structure, the
/// Dockerfile against `build-steps.sh` (which runs the Dockerfile's build stage here and checks the runtime stage's
/// libraries), and the sidecar arrangement itself rebuilt from namespaces (a PID 1 that gets SIGTERM, mount
/// propagation from a sidecar to the host and on to an application).
@Suite("Container example (examples/compose)", .serialized, .timeLimit(.minutes(25)))
struct ContainerExampleTests {
    static let directory = ProjectPaths.root + "/examples/compose"

    // MARK: - docker-compose.yml

    /// Checks a compose file given as argv[1] with PyYAML; prints `ok:` lines, or exits 1 naming what is wrong.
    static let composeChecker = #"""
        import sys, yaml
        compose = yaml.safe_load(open(sys.argv[1]))
        services = compose.get("services") or {}
        problems = []

        def environment(service):
            value = service.get("environment") or {}
            if isinstance(value, list):
                value = dict(item.split("=", 1) if "=" in item else (item, "") for item in value)
            return value

        def volumes(service, kind):
            found = []
            for volume in service.get("volumes") or []:
                if isinstance(volume, str):
                    source, _, rest = volume.partition(":")
                    volume = {"type": "bind" if source.startswith((".", "/")) else "volume",
                              "source": source, "target": rest.split(":")[0]}
                if volume.get("type") == kind:
                    found.append(volume)
            return found

        sidecars = {name: s for name, s in services.items()
                    if str((s.get("build") or {}).get("dockerfile", "")).endswith("examples/compose/Dockerfile")}
        apps = {name: s for name, s in services.items() if name not in sidecars}
        if len(sidecars) != 2:
            problems.append(f"want two Coffer sidecars (built from examples/compose/Dockerfile), have {sorted(sidecars)}")
        mount_sources, caches = {}, {}
        for name, sidecar in sidecars.items():
            if not any(str(d).split(":")[0] == "/dev/fuse" for d in sidecar.get("devices") or []):
                problems.append(f"{name}: no /dev/fuse device")
            if not {"SYS_ADMIN", "CAP_SYS_ADMIN"} & set(sidecar.get("cap_add") or []):
                problems.append(f"{name}: no SYS_ADMIN capability")
            if not any(o.replace("=", ":") == "apparmor:unconfined" for o in sidecar.get("security_opt") or []):
                problems.append(f"{name}: AppArmor not unconfined")
            if sidecar.get("privileged"):
                problems.append(f"{name}: privileged, which the example avoids")
            env = environment(sidecar)
            mountpoint = env.get("COFFER_MOUNTPOINT")
            if not env.get("COFFER_SOURCE") or not mountpoint:
                problems.append(f"{name}: COFFER_SOURCE or COFFER_MOUNTPOINT unset")
            if "allow_other" not in str(env.get("COFFER_OPTIONS", "")):
                problems.append(f"{name}: no allow_other, so the applications could not use the mount")
            if any(v.get("target") == mountpoint for v in volumes(sidecar, "bind") + volumes(sidecar, "volume")):
                problems.append(f"{name}: {mountpoint} is a volume's own mount point, which Coffer refuses to mount on")
            binds = [v for v in volumes(sidecar, "bind")
                     if str(mountpoint).startswith(str(v.get("target")).rstrip("/") + "/")]
            if len(binds) != 1 or (binds[0].get("bind") or {}).get("propagation") != "rshared":
                problems.append(f"{name}: the mountpoint {mountpoint} is not inside one bind volume with rshared propagation")
            else:
                mount_sources[binds[0]["source"]] = (name, mountpoint[len(binds[0]["target"].rstrip("/")):])
            cache = [v for v in volumes(sidecar, "volume") if v.get("target") == "/var/cache/coffer"]
            if len(cache) != 1 or not cache[0].get("source"):
                problems.append(f"{name}: no named cache volume at /var/cache/coffer")
            else:
                caches.setdefault(cache[0]["source"], []).append(name)
                if cache[0]["source"] not in (compose.get("volumes") or {}):
                    problems.append(f"{name}: cache volume {cache[0]['source']} is not declared")
            test = (sidecar.get("healthcheck") or {}).get("test") or []
            test = " ".join(map(str, test if isinstance(test, list) else [test]))
            if "coffer-healthcheck" not in test and str(mountpoint) not in test:
                problems.append(f"{name}: the healthcheck does not look at the mount {mountpoint}")
            if not sidecar.get("stop_grace_period"):
                problems.append(f"{name}: no stop_grace_period, so docker stop kills it after 10 s")
            if "AWS_SECRET_ACCESS_KEY" in env:
                problems.append(f"{name}: a secret key in the environment")
        shared = {volume: names for volume, names in caches.items() if len(names) > 1}
        if shared:
            problems.append(f"cache volume shared by sidecars: {shared}")
        if len(mount_sources) != len(sidecars) and len(sidecars) == 2:
            problems.append("two sidecars mount on the same host directory")

        used = set()
        for name, app in apps.items():
            sources = [v for v in volumes(app, "bind") if v.get("source") in mount_sources]
            if len(sources) != 1:
                problems.append(f"{name}: not one bind of a sidecar's mount")
                continue
            sidecar, below = mount_sources[sources[0]["source"]]
            used.add(sidecar)
            directory = sources[0]["target"].rstrip("/") + below
            if directory not in map(str, app.get("command") or []):
                problems.append(f"{name}: its command does not use {directory}, where it sees the mount of {sidecar}")
            if (sources[0].get("bind") or {}).get("propagation") != "rslave":
                problems.append(f"{name}: the mount of {sidecar} is not bound with rslave propagation")
            depends = app.get("depends_on") or {}
            condition = depends.get(sidecar, {}).get("condition") if isinstance(depends, dict) else None
            if condition != "service_healthy":
                problems.append(f"{name}: does not wait for {sidecar} to be service_healthy")
        if len(apps) != 2 or used != set(sidecars):
            problems.append(f"want one application per sidecar, have {sorted(apps)} on {sorted(used)}")

        for problem in problems:
            print("problem: " + problem)
        if problems:
            sys.exit(1)
        print(f"ok: sidecars {sorted(sidecars)} with /dev/fuse, SYS_ADMIN, AppArmor unconfined, rshared mounts, "
              f"caches {sorted(caches)}; applications {sorted(apps)} with rslave, after service_healthy")
        """#

    /// Runs the checker on `path`.
    static func checkCompose(_ path: String) async throws -> (status: Int32, output: String) {
        let result = try await Shell.run("python3 -c \(Shell.quote(composeChecker)) \(Shell.quote(path))")
        return (result.status, result.stdout + result.stderr)
    }

    @Test("docker-compose.yml: two sidecars with /dev/fuse, SYS_ADMIN, rshared mounts and their own caches; apps wait until they are healthy")
    func composeStructure() async throws {
        let imported = try await Shell.run("python3 -c 'import yaml'")
        try #require(imported.status == 0, "PyYAML is not importable (it comes with awscli: scripts/install-deps.sh)")
        let path = Self.directory + "/docker-compose.yml"
        let checked = try await Self.checkCompose(path)
        #expect(checked.status == 0, "\(checked.output)")
        #expect(checked.output.contains("ok: sidecars ['coffer-a', 'coffer-b']"), "\(checked.output)")

        // Each mistake below is caught: the check can fail.
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let scratch = try ProjectPaths.temporaryDirectory("coffer-compose")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let mutations: [(from: String, to: String, expected: String)] = [
            ("propagation: rshared", "propagation: rprivate", "rshared propagation"),
            ("propagation: rslave", "propagation: private", "rslave propagation"),
            ("source: coffer-cache-b", "source: coffer-cache-a", "cache volume shared by sidecars"),
            ("cap_add: [SYS_ADMIN]", "cap_add: []", "no SYS_ADMIN capability"),
            ("devices: [/dev/fuse]", "devices: []", "no /dev/fuse device"),
            ("coffer-b: {condition: service_healthy}", "coffer-b: {condition: service_started}",
             "app-b: does not wait for coffer-b to be service_healthy"),
            ("test: [CMD, coffer-healthcheck]", "test: [CMD, \"true\"]", "healthcheck does not look at the mount"),
            ("source: ./mnt/b\n        target: /mnt/shared", "source: ./mnt/a\n        target: /mnt/shared",
             "same host directory"),
            ("COFFER_MOUNTPOINT: /mnt/shared/attachments", "COFFER_MOUNTPOINT: /mnt/shared",
             "a volume's own mount point, which Coffer refuses"),
            ("/app/server.py, /srv/shared/attachments]", "/app/server.py, /srv/shared]", "its command does not use"),
        ]
        for mutation in mutations {
            #expect(text.contains(mutation.from), "the compose file no longer has \(mutation.from)")
            let mutated = scratch + "/docker-compose.yml"
            try text.replacingOccurrences(of: mutation.from, with: mutation.to)
                .write(toFile: mutated, atomically: true, encoding: .utf8)
            let result = try await Self.checkCompose(mutated)
            #expect(result.status != 0 && result.output.contains(mutation.expected),
                    "\(mutation.from) -> \(mutation.to): \(result.output)")
        }
    }

    // MARK: - Dockerfile and build-steps.sh

    /// What the Dockerfile's stages say, from its text (continuation lines joined).
    struct DockerfileSteps: Equatable {
        var buildImage = ""
        var buildPackages: [String] = []
        var buildCommand: [String] = []
        var runtimeImage = ""
        var runtimePackages: [String] = []
        var entrypoint = ""

        init(_ text: String) {
            let lines = text.replacingOccurrences(of: "\\\n", with: " ").split(separator: "\n")
                .map { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) }
                .filter { !$0.isEmpty && !$0[0].hasPrefix("#") }
            var stage = 0
            for words in lines {
                switch words[0] {
                case "FROM":
                    stage += 1
                    if stage == 1 { buildImage = words[1] } else { runtimeImage = words[1] }
                case "RUN":
                    if let install = words.firstIndex(of: "--no-install-recommends") {
                        let packages = Array(words[(install + 1)...].prefix { $0 != "&&" })
                        if stage == 1 { buildPackages = packages } else { runtimePackages = packages }
                    } else if words.count > 2, words[1] == "swift", words[2] == "build",
                              !words.contains("--show-bin-path") {
                        buildCommand = Array(words[1...].prefix { $0 != "&&" })
                    }
                case "ENTRYPOINT":
                    entrypoint = words[1...].joined(separator: " ")
                default:
                    break
                }
            }
        }
    }

    /// The assignments of build-steps.sh: `NAME=(words)` and `NAME=word`.
    static func shellAssignments(_ text: String) -> [String: [String]] {
        var values: [String: [String]] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "="), line.first?.isUppercase == true else { continue }
            let name = String(line[..<equals])
            guard name.allSatisfy({ $0.isUppercase || $0 == "_" }) else { continue }
            var value = line[line.index(after: equals)...].prefix { $0 != "#" }.trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("("), value.hasSuffix(")") { value = String(value.dropFirst().dropLast()) }
            values[name] = value.split(separator: " ").map(String.init)
        }
        return values
    }

    /// Where the Dockerfile and build-steps.sh disagree.
    static func disagreements(dockerfile: String, buildSteps: String) -> [String] {
        let docker = DockerfileSteps(dockerfile)
        let steps = shellAssignments(buildSteps)
        var found: [String] = []
        func compare(_ what: String, _ fromDockerfile: [String], _ fromSteps: [String]?) {
            if fromDockerfile.isEmpty || fromDockerfile != fromSteps {
                found.append("\(what): Dockerfile \(fromDockerfile), build-steps.sh \(fromSteps ?? [])")
            }
        }
        compare("swift build", docker.buildCommand, steps["SWIFT_BUILD"])
        compare("build packages", docker.buildPackages, steps["BUILD_PACKAGES"])
        compare("runtime packages", docker.runtimePackages, steps["RUNTIME_PACKAGES"])
        let version = steps["SWIFT_VERSION"]?.first ?? "?"
        let codename = steps["DEBIAN_CODENAME"]?.first ?? "?"
        compare("build image", [docker.buildImage], ["swift:\(version)-\(codename)"])
        compare("runtime image", [docker.runtimeImage], ["debian:\(codename)-slim"])
        return found
    }

    @Test("the Dockerfile's images, apt packages and swift build command are the ones build-steps.sh uses")
    func dockerfileMatchesBuildSteps() throws {
        let dockerfile = try String(contentsOfFile: Self.directory + "/Dockerfile", encoding: .utf8)
        let buildSteps = try String(contentsOfFile: Self.directory + "/build-steps.sh", encoding: .utf8)
        let docker = DockerfileSteps(dockerfile)
        #expect(docker.buildCommand == ["swift", "build", "-c", "release", "--product", "coffer", "--static-swift-stdlib"])
        #expect(docker.entrypoint == #"["/usr/local/bin/coffer-entrypoint"]"#)
        #expect(dockerfile.contains("COPY --chmod=0755 examples/compose/entrypoint.sh /usr/local/bin/coffer-entrypoint"))
        #expect(Self.disagreements(dockerfile: dockerfile, buildSteps: buildSteps) == [])

        // The entrypoint runs what the systemd unit runs (scripts/systemd/coffer@.service, docs/operations.md).
        let entrypoint = try String(contentsOfFile: Self.directory + "/entrypoint.sh", encoding: .utf8)
        #expect(entrypoint.contains(#"exec coffer mount "$COFFER_SOURCE" "$COFFER_MOUNTPOINT" --foreground $COFFER_OPTIONS"#))

        // A Dockerfile that drifted is caught: the comparison can fail.
        let drifted = dockerfile.replacingOccurrences(of: " --static-swift-stdlib\n", with: "\n")
            .replacingOccurrences(of: "libsqlite3-0 ca-certificates", with: "ca-certificates")
        let found = Self.disagreements(dockerfile: drifted, buildSteps: buildSteps)
        #expect(found.count == 2 && found[0].hasPrefix("swift build:") && found[1].hasPrefix("runtime packages:"),
                "\(found)")
    }

    @Test("build-steps.sh builds the release binary as the Dockerfile does and finds its libraries in the runtime stage")
    func buildSteps() async throws {
        let script = Shell.quote(Self.directory + "/build-steps.sh")
        let started = Date()
        let result = try await Shell.run("nice -n 19 bash \(script)", timeout: 1200)
        let output = result.stdout + result.stderr
        #expect(result.status == 0, "\(output.suffix(6000))")
        let seconds = Int(Date().timeIntervalSince(started))
        let dockerfile = DockerfileSteps(try String(contentsOfFile: Self.directory + "/Dockerfile", encoding: .utf8))
        for line in ["ok: Debian bookworm", "ok: Swift 6.3.1", "ok: build packages installed:",
                     "== build stage: " + dockerfile.buildCommand.joined(separator: " ") + "\n",
                     "ok: coffer built in ", "ok: ldd finds every library on this machine",
                     "  libfuse3.so.3            libfuse3-3               (apt-get install)",
                     "  libsqlite3.so.0          libsqlite3-0             (apt-get install)",
                     "  fusermount3              fuse3                    (apt-get install)",
                     "build-steps: all checks passed"] {
            #expect(output.contains(line), "\(line) (after \(seconds) s): \(output.suffix(6000))")
        }
        // No Swift runtime library: --static-swift-stdlib linked it in.
        #expect(!output.contains("libswift"), "\(output.suffix(6000))")
        let built = output.split(separator: "\n").first { $0.hasPrefix("ok: coffer built in ") }
        let binary = try #require(built.flatMap { $0.split(separator: " ").dropFirst(6).first }.map(String.init))
        #expect(FileManager.default.isExecutableFile(atPath: binary), "\(binary)")

        // Without libsqlite3-0 in the runtime stage, the check fails and names the library.
        let withoutSQLite = try await Shell.run("bash \(script) --check-binary \(Shell.quote(binary))",
                                                environment: ["COFFER_RUNTIME_PACKAGES": "fuse3 libcurl4 libssl3 ca-certificates"],
                                                timeout: 300)
        #expect(withoutSQLite.status != 0, "\(withoutSQLite.stdout)")
        #expect(withoutSQLite.stdout.contains("missing: libsqlite3.so.0 (")
                    && withoutSQLite.stdout.contains("comes from libsqlite3-0, which the runtime stage does not install"),
                "\(withoutSQLite.stdout)\(withoutSQLite.stderr)")

        // A binary linked against the Swift runtime (the debug build, without --static-swift-stdlib) fails too:
        // the runtime stage has no Swift libraries.
        let dynamic = try await Shell.run("bash \(script) --check-binary \(Shell.quote(MountedCoffer.binaryPath()))",
                                          timeout: 300)
        #expect(dynamic.status != 0, "\(dynamic.stdout)")
        #expect(dynamic.stdout.contains("missing: libswiftCore.so (")
                    && dynamic.stdout.contains("is not from any Debian package"), "\(dynamic.stdout)\(dynamic.stderr)")
    }

    // MARK: - The sidecar arrangement, without a container runtime

    /// Two "hosts" as in docker-compose.yml, from namespaces: in a private mount namespace standing for the Docker
    /// host, `host/` is a shared mount. Each sidecar is a new mount and PID namespace in which `host/mnt/X` is bound
    /// on its mountpoint (rshared) and the image's entrypoint runs as PID 1, with the compose file's COFFER_OPTIONS
    /// and its own /var/cache; each application is a new mount namespace with `host/mnt/X` bound rslave, running
    /// app/server.py as uid 33. Compose's healthcheck runs in the sidecar's namespaces, as `docker exec` would.
    static let sidecarScript = #"""
        set -eu
        work=$WORK; here=$HERE
        pids=""; below=""
        cleanup() {
            for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
            for h in a b; do fusermount3 -u -z "$work/host/mnt/$h/$below" 2>/dev/null || true; done
        }
        trap cleanup EXIT
        compose_value() {  # a Python expression over s and a, the compose file's coffer-a and app-a services
            python3 -c '
        import sys, yaml
        services = yaml.safe_load(open(sys.argv[1]))["services"]
        s, a = services["coffer-a"], services["app-a"]
        print(eval(sys.argv[2]))' "$here/docker-compose.yml" "$1"
        }
        COFFER_OPTIONS="$(compose_value 's["environment"]["COFFER_OPTIONS"]' | sed "s|\${COFFER_EXTRA_OPTIONS:-}|$EXTRA_OPTIONS|")"
        export COFFER_OPTIONS
        mountpoint="$(compose_value 's["environment"]["COFFER_MOUNTPOINT"]')"
        sidecar_bind="$(compose_value '[v["target"] for v in s["volumes"] if v["type"] == "bind"][0]')"
        app_bind="$(compose_value '[v["target"] for v in a["volumes"] if v.get("bind")][0]')"
        app_directory="$(compose_value 'a["command"][-1]')"
        health="$(compose_value '" ".join(s["healthcheck"]["test"][1:])')"
        [ "$health" = coffer-healthcheck ]  # the image's /usr/local/bin/coffer-healthcheck is healthcheck.sh
        below="${mountpoint#"$sidecar_bind"/}"
        echo "COFFER_OPTIONS: $COFFER_OPTIONS; mountpoint $mountpoint in the bind at $sidecar_bind; healthcheck: $health"
        mkdir -p "$work/host/mnt/a" "$work/host/mnt/b"
        mount --bind "$work/host" "$work/host"
        mount --make-rshared "$work/host"

        # A container's path P is $work/HOST/sidecar/P or $work/HOST/app/P here.
        healthcheck() {  # host, PID 1 of its sidecar: compose's healthcheck, in the namespaces `docker exec` enters
            nsenter --target "$2" --mount --pid env COFFER_MOUNTPOINT="$work/$1/sidecar$mountpoint" \
                sh "$here/healthcheck.sh" >/dev/null 2>&1
        }
        coffer_mounts() {  # how many Coffer mounts process $1 sees at $2
            grep -c " $2 [^-]* - fuse.coffer " "/proc/$1/mountinfo" || true
        }

        for h in a b; do
            mkdir -p "$work/$h/sidecar$sidecar_bind" "$work/$h/var-cache" "$work/$h/app$app_bind"
            unshare --mount --propagation unchanged --pid --fork --kill-child --mount-proc sh -c '
                mount --bind "$1" "$2" && mount --make-rshared "$2" && mount --bind "$3" /var/cache
                export COFFER_MOUNTPOINT="$5"
                mkdir -p "$5"
                if sh "$6/healthcheck.sh"; then echo "healthy before the mount"; exit 99; fi
                echo "$4: healthcheck fails before the mount"
                exec "$6/entrypoint.sh"' sidecar "$work/host/mnt/$h" "$work/$h/sidecar$sidecar_bind" "$work/$h/var-cache" \
                "$h" "$work/$h/sidecar$mountpoint" "$here" > "$work/$h/sidecar.log" 2>&1 &
            eval "unshare_$h=$!"
            pids="$pids $!"
        done
        for h in a b; do
            eval "unshare_pid=\$unshare_$h"
            pid1=""
            for _ in $(seq 1 300); do
                pid1="$(cut -d' ' -f1 "/proc/$unshare_pid/task/$unshare_pid/children" 2>/dev/null || true)"
                [ -n "$pid1" ] && healthcheck "$h" "$pid1" && break
                sleep 0.1
            done
            healthcheck "$h" "$pid1" || { cat "$work/$h/sidecar.log"; echo "$h: never healthy"; exit 1; }
            eval "pid1_$h=$pid1"
            grep -q '^NSpid:.*[[:space:]]1$' "/proc/$pid1/status" && echo "$h: healthy; PID 1 is $(cat "/proc/$pid1/comm")"
            echo "$h: host sees $(findmnt -n -o FSTYPE --mountpoint "$work/host/mnt/$h/$below")"
        done

        for h in a b; do
            eval "port=\$PORT_$h"
            unshare --mount --propagation unchanged sh -c '
                mount --rbind "$1" "$2" && mount --make-rslave "$2"
                exec setpriv --reuid=33 --regid=33 --clear-groups /usr/bin/python3 "$3/app/server.py" "$4" "$5"' \
                app "$work/host/mnt/$h" "$work/$h/app$app_bind" "$here" "$work/$h/app$app_directory" "$port" \
                > "$work/$h/app.log" 2>&1 &
            eval "app_$h=$!"
            pids="$pids $!"
            for _ in $(seq 1 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
        done

        echo "report from a" > "$work/report.txt"
        curl -fsS -T "$work/report.txt" "http://127.0.0.1:$PORT_a/report.txt"
        echo "a: stored report.txt as $(nsenter --target "$app_a" --mount stat -c %u:%g "$work/a/app$app_directory/report.txt") in its application"
        body=""
        for _ in $(seq 1 300); do
            body="$(curl -fs "http://127.0.0.1:$PORT_b/report.txt" || true)"
            [ "$body" = "report from a" ] && break
            sleep 0.1
        done
        echo "b: reads report.txt: $body"

        # docker stop of b's sidecar right after its application stored a file, within the write-back delay.
        echo "written just before docker stop" > "$work/late.txt"
        curl -fsS -T "$work/late.txt" "http://127.0.0.1:$PORT_b/late.txt"
        # (what `coffer status` shows; read directly, as coffer status misses mounts past the first 4 KiB of
        # /proc/self/mountinfo, which the long paths here exceed)
        echo "b: pending uploads before the stop: $(python3 -c 'import json, os, sys; print(json.loads(os.getxattr(sys.argv[1], "user.coffer.status"))["queue"]["pendingFiles"])' "$work/host/mnt/b/$below")"
        echo "b: the application sees $(coffer_mounts "$app_b" "$work/b/app$app_directory") Coffer mount(s) before the stop"
        kill -TERM "$pid1_b"
        status=0; wait "$unshare_b" || status=$?
        echo "b: sidecar exited with $status after SIGTERM to PID 1"
        echo "b: host mount after stop: $(findmnt -n -o FSTYPE --mountpoint "$work/host/mnt/b/$below" || echo none)"
        echo "b: the application sees $(coffer_mounts "$app_b" "$work/b/app$app_directory") Coffer mount(s) after the stop"
        body=""
        for _ in $(seq 1 100); do
            body="$(curl -fs "http://127.0.0.1:$PORT_a/late.txt" || true)"
            [ -n "$body" ] && break
            sleep 0.1
        done
        echo "a: reads late.txt: $body"
        kill -TERM "$pid1_a"
        status=0; wait "$unshare_a" || status=$?
        echo "a: sidecar exited with $status after SIGTERM to PID 1"
        """#

    @Test("the sidecar arrangement from namespaces: healthy only once mounted, mounts propagate to the apps, docker stop drains")
    func sidecarsFromNamespaces() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("compose")
        let work = try ProjectPaths.temporaryDirectory("coffer-sidecars")
        defer { try? FileManager.default.removeItem(atPath: work) }
        // The compose file's secret: a shared credentials file.
        let keys = moto.users["full"]!
        try """
            [default]
            aws_access_key_id = \(keys.accessKeyId)
            aws_secret_access_key = \(keys.secretAccessKey)

            """.write(toFile: work + "/aws-credentials", atomically: true, encoding: .utf8)
        // The image's PATH: `coffer` is the binary the tests run.
        try FileManager.default.createDirectory(atPath: work + "/bin", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: work + "/bin/coffer", withDestinationPath: MountedCoffer.binaryPath())
        let environment = [
            "WORK": work, "HERE": Self.directory,
            "PATH": work + "/bin:" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
            "COFFER_SOURCE": "s3://\(moto.bucket)/\(prefix)",
            // write_back_delay=5: the file stored right before the stop is surely still pending then.
            "EXTRA_OPTIONS": "-o endpoint=\(moto.server.endpoint),path_style,region=us-east-1,write_back_delay=5",
            // No config file, as in the image (not /dev/null, which Coffer's config reader refuses).
            "AWS_SHARED_CREDENTIALS_FILE": work + "/aws-credentials", "AWS_CONFIG_FILE": work + "/no-aws-config",
            "PORT_a": "\(try TestPorts.free())", "PORT_b": "\(try TestPorts.free())",
        ]
        let result = try await Shell.run("unshare --mount --propagation private sh -c \(Shell.quote(Self.sidecarScript))",
                                         environment: environment, timeout: 120)
        let output = result.stdout + result.stderr
        let logs = ["a/sidecar.log", "b/sidecar.log", "a/app.log", "b/app.log"].map {
            "--- \($0):\n" + ((try? String(contentsOfFile: work + "/" + $0, encoding: .utf8)) ?? "")
        }.joined(separator: "\n")
        #expect(result.status == 0, "\(output)\n\(logs)")
        for line in ["a: healthcheck fails before the mount", "b: healthcheck fails before the mount",
                     "a: healthy; PID 1 is coffer", "b: healthy; PID 1 is coffer",
                     "a: host sees fuse.coffer", "b: host sees fuse.coffer",
                     "a: stored report.txt as 33:33 in its application", "b: reads report.txt: report from a",
                     "b: pending uploads before the stop: 1", "b: the application sees 1 Coffer mount(s) before the stop",
                     "b: sidecar exited with 0 after SIGTERM to PID 1", "b: host mount after stop: none",
                     "b: the application sees 0 Coffer mount(s) after the stop",
                     "a: reads late.txt: written just before docker stop",
                     "a: sidecar exited with 0 after SIGTERM to PID 1"] {
            #expect((output + logs).contains(line), "\(line): \(output)\n\(logs)")
        }
        #expect(try await BucketScript(moto: moto).get(prefix + "late.txt") == "written just before docker stop\n")
    }
}
