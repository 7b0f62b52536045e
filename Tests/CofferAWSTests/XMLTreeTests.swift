import CofferTestSupport
import CofferAWS
import Foundation
import Testing

@Suite struct XMLTreeTests {
    static func parse(_ text: String) throws(XMLError) -> XMLTree {
        try XMLTree.parse(Array(text.utf8))
    }

    // MARK: - Real documents

    static let listBucketResult = """
        <?xml version="1.0" encoding="UTF-8"?>
        <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>example-bucket</Name>\
        <Prefix>photos%2F</Prefix><KeyCount>3</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>%2F</Delimiter>\
        <EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>\
        <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>\
        <Contents><Key>photos%2F2006%2Fsample+file%2B1.jpg</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>\
        <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><ChecksumAlgorithm>CRC32</ChecksumAlgorithm>\
        <Size>434234</Size><StorageClass>STANDARD</StorageClass></Contents>\
        <Contents><Key>photos%2F%E6%97%A5%E6%9C%AC%2F+lead+and+trail+</Key><LastModified>2009-10-12T17:50:31.000Z</LastModified>\
        <ETag>&quot;9c8af9a76df052144598c115ef33e511-2&quot;</ETag><Size>0</Size>\
        <Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID><DisplayName>mtd</DisplayName></Owner>\
        <StorageClass>STANDARD_IA</StorageClass></Contents>\
        <CommonPrefixes><Prefix>photos%2F2006%2FFebruary%2F</Prefix></CommonPrefixes>\
        <CommonPrefixes><Prefix>photos%2F2006%2FJanuary%2F</Prefix></CommonPrefixes></ListBucketResult>
        """

    @Test func listBucketResultV2WithURLEncoding() throws {
        let root = try Self.parse(Self.listBucketResult)
        #expect(root.name == "ListBucketResult")
        #expect(root.attributes.isEmpty, "xmlns is not an attribute")
        #expect(root.childText("Name") == "example-bucket")
        #expect(root.childText("EncodingType") == "url")
        #expect(root.childText("IsTruncated") == "true")
        #expect(root.childText("KeyCount") == "3")
        #expect(root.childText("NextContinuationToken") == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
        #expect(root.childText("Missing") == nil)
        let contents = root.children("Contents")
        #expect(contents.count == 2)
        let keys = contents.compactMap { $0.childText("Key").flatMap { AWSURIEncoding.decode($0, plusAsSpace: true) } }
        #expect(keys == ["photos/2006/sample file+1.jpg", "photos/日本/ lead and trail "])
        #expect(contents[0].childText("ETag") == "\"fba9dede5f27731c9771645a39863328\"")
        #expect(contents[0].childText("Size") == "434234")
        #expect(contents[1].child("Owner")?.childText("DisplayName") == "mtd")
        #expect(root.children("CommonPrefixes").compactMap { $0.childText("Prefix") }
            == ["photos%2F2006%2FFebruary%2F", "photos%2F2006%2FJanuary%2F"])
        #expect(root.text.isEmpty)
    }

    @Test func prettyPrintedListKeepsKeyWhitespace() throws {
        let document = """
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Name>b</Name>
              <Contents>
                <Key>  spaced key\twith tab  </Key>
                <Size>1</Size>
              </Contents>
              <Contents><Key>multi
            line&#13;&#10;key</Key></Contents>
              <Contents><Key> </Key></Contents>
            </ListBucketResult>

            """
        let root = try Self.parse(document)
        #expect(root.children("Contents").map { $0.childText("Key") } == ["  spaced key\twith tab  ", "multi\nline\r\nkey", " "])
        #expect(root.children.map(\.name) == ["Name", "Contents", "Contents", "Contents"])
        #expect(root.text == "\n  \n  \n  \n  \n", "whitespace between children is the root's text, kept as is")
    }

    @Test func errorDocument() throws {
        let root = try Self.parse("""
            <?xml version="1.0" encoding="UTF-8"?>
            <Error><Code>NoSuchKey</Code><Message>The resource you requested does not exist</Message>\
            <Resource>/mybucket/myfoto.jpg</Resource><RequestId>4442587FB7D0A2F9</RequestId>\
            <HostId>ZBcLI6IyJVqJk1u3D9jEtFvS04eA3hPRnUUV6qk1z8E1fW+6p1ePS0p8tzYxqJw3C0GNbCSh2Ug=</HostId></Error>
            """)
        #expect(root.name == "Error")
        #expect(root.childText("Code") == "NoSuchKey")
        #expect(root.childText("Resource") == "/mybucket/myfoto.jpg")
        #expect(root.childText("HostId")?.hasSuffix("Ug=") == true)
    }

    @Test func deleteResult() throws {
        let root = try Self.parse("""
            <?xml version="1.0" encoding="UTF-8"?>
            <DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Deleted><Key>sample1.txt</Key></Deleted>
              <Deleted><Key>a &amp; b &lt;c&gt;</Key><DeleteMarker>true</DeleteMarker>\
            <DeleteMarkerVersionId>NeQt5xeFTfgPJD8B4CGWnkSLtluMr11s</DeleteMarkerVersionId></Deleted>
              <Error><Key>sample2.txt</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>
            </DeleteResult>
            """)
        #expect(root.children("Deleted").compactMap { $0.childText("Key") } == ["sample1.txt", "a & b <c>"])
        #expect(root.children("Deleted")[1].childText("DeleteMarker") == "true")
        let error = try #require(root.child("Error"))
        #expect(error.childText("Code") == "AccessDenied" && error.childText("Key") == "sample2.txt")
    }

    @Test func multipartAndCopyResults() throws {
        let initiate = try Self.parse("""
            <?xml version="1.0" encoding="UTF-8"?>
            <InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\
            <Bucket>example-bucket</Bucket><Key>example-object</Key>\
            <UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>\
            </InitiateMultipartUploadResult>
            """)
        #expect(initiate.childText("UploadId") == "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA")
        let copy = try Self.parse("""
            <CopyObjectResult><LastModified>2009-10-28T22:32:00.000Z</LastModified>\
            <ETag>"9b2cf535f27731c974343645a3985328"</ETag></CopyObjectResult>
            """)
        #expect(copy.childText("ETag") == "\"9b2cf535f27731c974343645a3985328\"")
    }

    @Test func stsAssumeRoleResponse() throws {
        let root = try Self.parse("""
            <AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
              <AssumeRoleResult>
                <SourceIdentity>Alice</SourceIdentity>
                <AssumedRoleUser>
                  <Arn>arn:aws:sts::123456789012:assumed-role/demo/TestAR</Arn>
                  <AssumedRoleId>ARO123EXAMPLE123:TestAR</AssumedRoleId>
                </AssumedRoleUser>
                <Credentials>
                  <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
                  <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
                  <SessionToken>AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==</SessionToken>
                  <Expiration>2019-11-09T13:34:41Z</Expiration>
                </Credentials>
                <PackedPolicySize>6</PackedPolicySize>
              </AssumeRoleResult>
              <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
            </AssumeRoleResponse>
            """)
        let credentials = try #require(root.child("AssumeRoleResult")?.child("Credentials"))
        #expect(credentials.childText("AccessKeyId") == "ASIAIOSFODNN7EXAMPLE")
        #expect(credentials.childText("SessionToken")?.hasSuffix("oLxBA==") == true)
        #expect(credentials.childText("Expiration") == "2019-11-09T13:34:41Z")
        #expect(root.child("ResponseMetadata")?.childText("RequestId") == "c6104cbe-af31-11e0-8154-cbc7ccf896c7")
    }

    // MARK: - Syntax

    @Test func namespacesAreStripped() throws {
        let root = try Self.parse("""
            <s:Envelope xmlns:s="urn:s" xmlns="urn:default"><s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" \
            xsi:type="CanonicalUser" id='7'><ns:Key>k</ns:Key></s:Body></s:Envelope>
            """)
        #expect(root.name == "Envelope" && root.attributes.isEmpty)
        let body = try #require(root.child("Body"))
        #expect(body.attributes == ["type": "CanonicalUser", "id": "7"])
        #expect(body.childText("Key") == "k")
        #expect(throws: XMLError.mismatchedTag(expected: "a:Key", found: "b:Key", offset: 8)) {
            try Self.parse("<a:Key>x</b:Key>")
        }
    }

    @Test func entitiesAndCharacterReferences() throws {
        let root = try Self.parse("<a>&lt;&gt;&amp;&quot;&apos;&#65;&#x42;&#x1F600;&#0065;&#x000041;&#233;&#x9;&#10;&#13;</a>")
        #expect(root.text == "<>&\"'AB😀AAé\t\n\r")
        #expect(try Self.parse("<a v='&#x1F600;&lt;&#13;'/>").attributes["v"] == "😀<\r")
    }

    @Test func characterReferenceCase() throws {
        // Only a lower-case "x" introduces a hex reference in XML.
        #expect(throws: XMLError.invalidEntity(offset: 3)) { try Self.parse("<a>&#X43;</a>") }
        #expect(try Self.parse("<a>&#x43;&#x4a;&#x4A;</a>").text == "CJJ")
    }

    @Test(arguments: [
        "&#0;", "&#x0;", "&#1;", "&#x1F;", "&#xD800;", "&#xDFFF;", "&#xFFFE;", "&#xFFFF;", "&#x110000;",
        "&#99999999999999999999;", "&#;", "&#x;", "&#12a;", "&#xG1;", "&unknown;", "&lt", "& ", "&;", "&amp ;",
        "&#-1;", "&LT;", "&ltx;",
    ])
    func invalidReferencesThrow(_ reference: String) {
        #expect(throws: XMLError.invalidEntity(offset: 3)) { try Self.parse("<a>\(reference)</a>") }
        #expect(throws: XMLError.self) { try Self.parse("<a b=\"\(reference)\"/>") }
    }

    @Test func cdataAndMixedContent() throws {
        let root = try Self.parse("<a>x<![CDATA[<b>&amp;]]]]><![CDATA[>]]>y<b/>z<!-- c --><?pi data?>w</a>")
        #expect(root.text == "x<b>&amp;]]>yzw")
        #expect(root.children == [XMLTree(name: "b")])
        #expect(try Self.parse("<a><![CDATA[]]></a>").text == "")
        #expect(throws: XMLError.invalidCharacter(offset: 4)) { try Self.parse("<a>x]]>y</a>") }
    }

    @Test func attributesAndSelfClosingTags() throws {
        let root = try Self.parse("<a  x = '1' y=\"two &amp; &quot;three&quot;\"\tz='\"'\n><b/><c q=\"\" /></a >")
        #expect(root.attributes == ["x": "1", "y": "two & \"three\"", "z": "\""])
        #expect(root.children == [XMLTree(name: "b"), XMLTree(name: "c", attributes: ["q": ""])])
        #expect(throws: XMLError.duplicateAttribute(name: "x", offset: 9)) { try Self.parse("<a x='1' x='2'/>") }
        #expect(throws: XMLError.invalidCharacter(offset: 8)) { try Self.parse("<a x='1'y='2'/>") }
        #expect(throws: XMLError.invalidCharacter(offset: 6)) { try Self.parse("<a x='<'/>") }
        #expect(throws: XMLError.invalidCharacter(offset: 5)) { try Self.parse("<a x=1/>") }
        #expect(throws: XMLError.invalidCharacter(offset: 4)) { try Self.parse("<a / >") }
    }

    @Test func prologAndEpilog() throws {
        let expected = XMLTree(name: "r", text: "t")
        #expect(try XMLTree.parse([0xEF, 0xBB, 0xBF] + Array("<?xml version='1.0'?><r>t</r>".utf8)) == expected)
        #expect(try Self.parse("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\r\n<!-- c -->\n<?style x?>\n<r>t</r>\n<!-- after -->\n<?pi?>\n\n") == expected)
        #expect(try Self.parse("<r>t</r>") == expected)
        #expect(throws: XMLError.invalidCharacter(offset: 1)) { try Self.parse(" <?xml version='1.0'?><r/>") }
        #expect(throws: XMLError.invalidCharacter(offset: 4)) { try Self.parse("<r/><?xml version='1.0'?>") }
        #expect(throws: XMLError.unsupported("DOCTYPE", offset: 0)) { try Self.parse("<!DOCTYPE r [<!ENTITY x \"y\">]><r>&x;</r>") }
        #expect(throws: XMLError.invalidCharacter(offset: 0)) { try Self.parse("text<r/>") }
        #expect(throws: XMLError.invalidCharacter(offset: 7)) { try Self.parse("<!-- a -- b --><r/>") }
    }

    @Test func documentLevelErrors() {
        #expect(throws: XMLError.noRootElement(offset: 0)) { try Self.parse("") }
        #expect(throws: XMLError.noRootElement(offset: 3)) { try Self.parse(" \n\t") }
        #expect(throws: XMLError.noRootElement(offset: 21)) { try Self.parse("<?xml version='1.0'?>") }
        #expect(throws: XMLError.noRootElement(offset: 10)) { try Self.parse("<!-- c -->") }
        #expect(throws: XMLError.contentAfterRoot(offset: 4)) { try Self.parse("<a/><b/>") }
        #expect(throws: XMLError.contentAfterRoot(offset: 5)) { try Self.parse("<a/> x") }
        #expect(throws: XMLError.mismatchedTag(expected: "a", found: "b", offset: 3)) { try Self.parse("<a></b>") }
        #expect(throws: XMLError.unexpectedEnd(offset: 3)) { try Self.parse("<a>") }
        #expect(throws: XMLError.unexpectedEnd(offset: 6)) { try Self.parse("<a><b>") }
        #expect(throws: XMLError.invalidUTF8(offset: 3)) { try XMLTree.parse(Array("<a>".utf8) + [0xC3, 0x28] + Array("</a>".utf8)) }
        #expect(throws: XMLError.invalidUTF8(offset: 3)) { try XMLTree.parse(Array("<a>".utf8) + [0xED, 0xA0, 0x80] + Array("</a>".utf8)) }
        #expect(throws: XMLError.invalidUTF8(offset: 3)) { try XMLTree.parse(Array("<a>".utf8) + [0xC0, 0xAF] + Array("</a>".utf8)) }
        #expect(throws: XMLError.invalidUTF8(offset: 3)) { try XMLTree.parse(Array("<a>".utf8) + [0xEF, 0xBF, 0xBF] + Array("</a>".utf8)) }
        #expect(throws: XMLError.invalidCharacter(offset: 3)) { try XMLTree.parse(Array("<a>".utf8) + [0x00] + Array("</a>".utf8)) }
        #expect(throws: XMLError.invalidCharacter(offset: 3)) { try Self.parse("<a>\u{1B}</a>") }
        #expect(throws: XMLError.invalidCharacter(offset: 1)) { try Self.parse("<1a/>") }
        #expect(throws: XMLError.invalidCharacter(offset: 2)) { try Self.parse("<a:/>") }
    }

    @Test func nestingLimit() throws {
        func nested(_ depth: Int) -> String {
            String(repeating: "<e>", count: depth) + "x" + String(repeating: "</e>", count: depth)
        }
        var node = try Self.parse(nested(XMLTree.maximumDepth))
        for _ in 1..<XMLTree.maximumDepth { node = try #require(node.child("e")) }
        #expect(node.text == "x")
        let limit = XMLTree.maximumDepth
        #expect(throws: XMLError.tooDeep(limit: limit, offset: 3 * limit)) { try Self.parse(nested(limit + 1)) }
        #expect(throws: XMLError.tooDeep(limit: limit, offset: 3 * limit)) {
            try Self.parse(String(repeating: "<e>", count: limit) + "<f/>" + String(repeating: "</e>", count: limit))
        }
        // A million open tags: refused at depth 65, no recursion, no time spent on the rest.
        #expect(throws: XMLError.tooDeep(limit: limit, offset: 3 * limit)) { try Self.parse(nested(1_000_000)) }
    }

    // MARK: - Escaping and round trips

    @Test func escape() throws {
        #expect(XMLTree.escape("plain text ü") == "plain text ü")
        #expect(XMLTree.escape("a&b<c>d\"e'f\r\n\tg") == "a&amp;b&lt;c&gt;d&quot;e&apos;f&#13;&#10;&#9;g")
        #expect(XMLTree.escape("") == "")
    }

    @Test func keysRoundTripThroughEscape() throws {
        var generator = SplitMix64(seed: 42)
        let alphabet = Array("ab Z09 &<>\"';/%+=~\r\n\t日😀é]".unicodeScalars)
        for _ in 0..<300 {
            var view = String.UnicodeScalarView()
            for _ in 0..<Int(generator.next() % 20) { view.append(alphabet[Int(generator.next() % UInt64(alphabet.count))]) }
            let key = String(view)
            let document = "<Delete><Object k=\"\(XMLTree.escape(key))\"><Key>\(XMLTree.escape(key))</Key></Object></Delete>"
            let object = try #require(try Self.parse(document).child("Object"))
            #expect(object.childText("Key") == key)
            #expect(object.attributes["k"] == key)
        }
    }

    // MARK: - Malformed input

    static let sampleDocuments: [String] = [
        listBucketResult,
        "<?xml version=\"1.0\"?><!-- c --><a x='1' y=\"&amp;\"><b>t&lt;<![CDATA[c]]>&#x1F600;</b><c/><?p d?></a>",
        "<s:E xmlns:s='u'><s:B>日本語 😀</s:B></s:E>",
        "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
    ]

    @Test func everyTruncationThrows() throws {
        for document in Self.sampleDocuments {
            let bytes = Array(document.utf8)
            #expect(throws: Never.self) { try XMLTree.parse(bytes) }
            var endOfRoot = bytes.count
            while endOfRoot > 0, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[endOfRoot - 1]) { endOfRoot -= 1 }
            for length in 0..<endOfRoot {
                do {
                    let node = try XMLTree.parse(Array(bytes[..<length]))
                    Issue.record("prefix of \(length) bytes parsed as <\(node.name)>: \(String(decoding: bytes[..<length], as: UTF8.self))")
                } catch {
                    #expect(error.offset >= 0 && error.offset <= length, "\(error)")
                }
            }
        }
    }

    @Test func mutatedInputsNeverCrash() throws {
        var generator = SplitMix64(seed: 2024)
        let specials: [UInt8] = Array("<>&;/=\"' ]!?-#x:".utf8) + [0x00, 0x0A, 0x80, 0xC3, 0xED, 0xEF, 0xFF]
        var parsed = 0, rejected = 0
        for document in Self.sampleDocuments {
            let original = Array(document.utf8)
            for _ in 0..<1_500 {
                var bytes = original
                for _ in 0..<(1 + Int(generator.next() % 3)) {
                    let position = Int(generator.next() % UInt64(bytes.count))
                    switch generator.next() % 5 {
                    case 0: bytes[position] = specials[Int(generator.next() % UInt64(specials.count))]
                    case 1: bytes[position] = UInt8(truncatingIfNeeded: generator.next())
                    case 2: bytes.remove(at: position)
                    case 3: bytes.insert(specials[Int(generator.next() % UInt64(specials.count))], at: position)
                    default:
                        let end = min(bytes.count, position + Int(generator.next() % 16))
                        bytes.insert(contentsOf: bytes[position..<end], at: position)
                    }
                    if bytes.isEmpty { break }
                }
                do {
                    let node = try XMLTree.parse(bytes)
                    #expect(try XMLTree.parse(bytes) == node, "parsing is deterministic")
                    parsed += 1
                } catch {
                    #expect(error.offset >= 0 && error.offset <= bytes.count, "\(error)")
                    #expect(!error.description.isEmpty)
                    rejected += 1
                }
            }
        }
        #expect(rejected > parsed, "most mutations break the document (\(rejected) rejected, \(parsed) parsed)")
    }

    // MARK: - Size

    static func bigListing(keys: Int) -> [UInt8] {
        var text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            + "<Name>bucket</Name><Prefix></Prefix><KeyCount>\(keys)</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>"
        for index in 0..<keys {
            text += "<Contents><Key>some/fairly/long/prefix/file number \(index) &amp; friends ü.txt</Key>"
                + "<LastModified>2024-01-01T00:00:00.000Z</LastModified><ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag>"
                + "<ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm><Size>\(index * 1000)</Size>"
                + "<Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID></Owner>"
                + "<StorageClass>STANDARD</StorageClass></Contents>"
        }
        return Array((text + "</ListBucketResult>").utf8)
    }

    @Test func thousandKeyListing() throws {
        let bytes = Self.bigListing(keys: 1000)
        #expect(bytes.count > 300_000)
        let root = try XMLTree.parse(bytes)
        let contents = root.children("Contents")
        #expect(contents.count == 1000)
        #expect(contents[999].childText("Key") == "some/fairly/long/prefix/file number 999 & friends ü.txt")
        #expect(contents[999].childText("Size") == "999000")
    }
}
