import Testing

@testable import CofferFS

@Suite("POSIXMetadata")
struct POSIXMetadataTests {
    func ts(_ seconds: Int64, _ nanoseconds: UInt32 = 0) -> Timestamp {
        Timestamp(seconds: seconds, nanoseconds: nanoseconds)
    }

    // MARK: - s3fs

    @Test func readsS3FSFiles() {
        let metadata = POSIXMetadata(userMetadata: [
            "mode": "33188", "uid": "1000", "gid": "100", "mtime": "1700000000", "ctime": "1700000001",
            "atime": "1700000002",
        ])
        #expect(metadata == POSIXMetadata(mode: 0o100644, uid: 1000, gid: 100, atime: ts(1_700_000_002),
                                          mtime: ts(1_700_000_000), ctime: ts(1_700_000_001)))
    }

    // MARK: - AWS (FSx for Lustre, Amazon File Cache, S3 File Gateway)

    @Test func readsTheAWSConventionWithNanosecondsAndMilliseconds() {
        let metadata = POSIXMetadata(userMetadata: [
            "file-permissions": "0100664", "file-owner": "1001", "file-group": "1002",
            "file-mtime": "1700000000123456789ns", "file-atime": "1700000000500", "file-ctime": "-1500ns",
        ])
        #expect(metadata == POSIXMetadata(mode: 0o100664, uid: 1001, gid: 1002, atime: ts(1_700_000_000, 500_000_000),
                                          mtime: ts(1_700_000_000, 123_456_789), ctime: ts(-1, 999_998_500)))
        #expect(POSIXMetadata(userMetadata: ["file-permissions": "040755"]).mode == 0o40755)
    }

    @Test func s3fsHeadersWinOverTheAWSConventionAndBadAWSValuesAreIgnored() {
        let metadata = POSIXMetadata(userMetadata: [
            "mode": "33188", "file-permissions": "0100600", "mtime": "1600000000", "file-mtime": "1700000000000ns",
            "file-owner": "abc", "file-atime": "12x",
        ])
        #expect(metadata.mode == 0o100644)
        #expect(metadata.mtime == ts(1_600_000_000))
        #expect(metadata.uid == nil)
        #expect(metadata.atime == nil)
    }

    @Test(arguments: [("16877", UInt32(0o40755)), ("41471", 0o120777), ("33261", 0o100755), ("4516", 0o10644)])
    func readsS3FSModesOfEveryType(text: String, mode: UInt32) {
        #expect(POSIXMetadata(userMetadata: ["mode": text]).mode == mode)
    }

    @Test func readsS3FSNanosecondTimesAsNanoseconds() {
        let metadata = POSIXMetadata(userMetadata: [
            "mtime": "1700000000.000000005", "ctime": "1700000000.123456789", "atime": "1700000000.100000000",
        ])
        #expect(metadata.mtime == ts(1_700_000_000, 5))
        #expect(metadata.ctime == ts(1_700_000_000, 123_456_789))
        #expect(metadata.atime == ts(1_700_000_000, 100_000_000))
    }

    @Test(arguments: [
        ("0100644", UInt32(0o100644)), ("0644", 0o644), ("0x81a4", 0o100644), ("0X41ED", 0o40755), ("00", 0),
        (" 33188 ", 0o100644), ("+33188", 0o100644),
    ])
    func readsModesAsStrtolBase0(text: String, mode: UInt32) {
        #expect(POSIXMetadata(userMetadata: ["mode": text]).mode == mode)
    }

    @Test func readsS3FSOwnersInStrtolForms() {
        #expect(POSIXMetadata(userMetadata: ["uid": "0", "gid": "0x10"]) == POSIXMetadata(uid: 0, gid: 16))
        #expect(POSIXMetadata(userMetadata: ["uid": "010", "gid": "4294967295"]) == POSIXMetadata(uid: 8, gid: .max))
    }

    // MARK: - rclone

    @Test(arguments: [
        ("1354040105.123456789", Int64(1_354_040_105), UInt32(123_456_789)),
        ("1354040105.5", 1_354_040_105, 500_000_000),
        ("1354040105.05", 1_354_040_105, 50_000_000),
        ("1354040105.000001", 1_354_040_105, 1_000),
        ("1354040105", 1_354_040_105, 0),
        ("1354040105.1234567891", 1_354_040_105, 123_456_789),
    ])
    func readsRcloneMtimeWithItsFractionScaled(text: String, seconds: Int64, nanoseconds: UInt32) {
        #expect(POSIXMetadata(userMetadata: ["mtime": text]).mtime == ts(seconds, nanoseconds))
    }

    @Test(arguments: [
        ("100644", UInt32(0o100644)), ("100664", 0o100664), ("100755", 0o100755), ("40755", 0o40755),
        ("40700", 0o40700), ("120777", 0o120777), ("140755", 0o140755), ("60660", 0o60660), ("20666", 0o20666),
    ])
    func readsRcloneOctalModes(text: String, mode: UInt32) {
        #expect(POSIXMetadata(userMetadata: ["mode": text]).mode == mode)
    }

    @Test func decimalWinsWhenBothReadingsHaveAValidType() {
        // rclone would write a FIFO 0644 as "10644", but decimal 10644 is a character device 0o24624 (rclone copies
        // only files and directories, s3fs writes every type in decimal).
        #expect(POSIXMetadata(userMetadata: ["mode": "10644"]).mode == 10644)
    }

    @Test func readsPermissionsWithoutAType() {
        #expect(POSIXMetadata(userMetadata: ["mode": "420"]).mode == 0o644)
        #expect(POSIXMetadata(userMetadata: ["mode": "0"]).mode == 0)
        #expect(POSIXMetadata(userMetadata: ["mode": "4095"]).mode == 0o7777)
    }

    @Test func readsRcloneRFC3339Times() {
        let metadata = POSIXMetadata(userMetadata: [
            "atime": "2012-11-27T18:15:05.123456789Z", "mtime": "2012-11-27T19:15:05+01:00",
            "ctime": "1970-01-01T00:00:00.5z",
        ])
        #expect(metadata.atime == ts(1_354_040_105, 123_456_789))
        #expect(metadata.mtime == ts(1_354_040_105))
        #expect(metadata.ctime == ts(0, 500_000_000))
        #expect(POSIXMetadata(userMetadata: ["atime": "2024-02-29T00:00:00-00:30"]).atime == ts(1_709_166_600))
        #expect(POSIXMetadata(userMetadata: ["atime": "1969-12-31T23:59:59Z"]).atime == ts(-1))
    }

    // MARK: - s3cmd, s3sync, GCS

    @Test func readsS3cmdAttributes() {
        let metadata = POSIXMetadata(userMetadata: [
            "s3cmd-attrs": "atime:1700000000/ctime:1700000001/gid:1000/gname:users/md5:0123456789abcdef0123456789abcdef/"
                + "mode:33188/mtime:1700000002/uid:1001/uname:alice%20smith",
        ])
        #expect(metadata == POSIXMetadata(mode: 0o100644, uid: 1001, gid: 1000, atime: ts(1_700_000_000),
                                          mtime: ts(1_700_000_002), ctime: ts(1_700_000_001)))
    }

    @Test func readsS3cmdAttributesWithMissingAndMalformedPieces() {
        let metadata = POSIXMetadata(userMetadata: ["s3cmd-attrs": "junk//mode:16877/:5/uid:x/mtime:1700000000"])
        #expect(metadata == POSIXMetadata(mode: 0o40755, mtime: ts(1_700_000_000)))
    }

    @Test func readsS3syncFallbacks() {
        let metadata = POSIXMetadata(userMetadata: ["permissions": "33188", "owner": "500", "group": "501"])
        #expect(metadata == POSIXMetadata(mode: 0o100644, uid: 500, gid: 501))
    }

    @Test func readsGCSFallbacks() {
        let metadata = POSIXMetadata(userMetadata: [
            "goog-reserved-posix-mode": "644", "goog-reserved-posix-uid": "1000", "goog-reserved-posix-gid": "1001",
            "goog-reserved-file-mtime": "1700000000",
        ])
        #expect(metadata == POSIXMetadata(mode: 0o644, uid: 1000, gid: 1001, mtime: ts(1_700_000_000)))
        #expect(POSIXMetadata(userMetadata: ["goog-reserved-posix-mode": "100755"]).mode == 0o100755)
        // GCS's mode is always octal: "420" there is 0o420, and "33188" is not octal.
        #expect(POSIXMetadata(userMetadata: ["goog-reserved-posix-mode": "420"]).mode == 0o420)
        #expect(POSIXMetadata(userMetadata: ["goog-reserved-posix-mode": "33188"]).mode == nil)
        #expect(POSIXMetadata(userMetadata: ["gcsfuse_mtime": "2023-11-14T22:13:20.25Z"]).mtime
                    == ts(1_700_000_000, 250_000_000))
    }

    @Test func metadataNamesAreCaseInsensitive() {
        let metadata = POSIXMetadata(userMetadata: ["Mode": "33188", "X-Unrelated": "1", "MTIME": "5"])
        #expect(metadata == POSIXMetadata(mode: 0o100644, mtime: ts(5)))
    }

    // MARK: - Precedence

    @Test func standardKeysWinOverS3cmdWhichWinsOverTheOthers() {
        let all: [String: String] = [
            "mode": "33188", "uid": "1", "gid": "2", "mtime": "100", "atime": "101", "ctime": "102",
            "s3cmd-attrs": "mode:16877/uid:11/gid:12/mtime:200/atime:201/ctime:202",
            "permissions": "41471", "owner": "21", "group": "22",
            "goog-reserved-posix-mode": "700", "goog-reserved-posix-uid": "31", "goog-reserved-posix-gid": "32",
            "goog-reserved-file-mtime": "300", "gcsfuse_mtime": "1970-01-01T00:06:40Z",
        ]
        #expect(POSIXMetadata(userMetadata: all) == POSIXMetadata(mode: 0o100644, uid: 1, gid: 2, atime: ts(101),
                                                                  mtime: ts(100), ctime: ts(102)))

        var noStandard = all
        for name in ["mode", "uid", "gid", "mtime", "atime", "ctime"] { noStandard[name] = nil }
        #expect(POSIXMetadata(userMetadata: noStandard) == POSIXMetadata(mode: 0o40755, uid: 11, gid: 12,
                                                                         atime: ts(201), mtime: ts(200), ctime: ts(202)))

        var onlyOthers = noStandard
        onlyOthers["s3cmd-attrs"] = nil
        #expect(POSIXMetadata(userMetadata: onlyOthers) == POSIXMetadata(mode: 0o120777, uid: 21, gid: 22,
                                                                         mtime: ts(300)))
        onlyOthers["permissions"] = nil
        onlyOthers["owner"] = nil
        onlyOthers["goog-reserved-file-mtime"] = nil
        #expect(POSIXMetadata(userMetadata: onlyOthers) == POSIXMetadata(mode: 0o700, uid: 31, gid: 22, mtime: ts(400)))
    }

    @Test func aMalformedValueFallsBackToTheNextSource() {
        let metadata = POSIXMetadata(userMetadata: [
            "mode": "rw-r--r--", "s3cmd-attrs": "mode:33188/uid:-1", "uid": "alice", "owner": "7",
            "mtime": "yesterday", "goog-reserved-file-mtime": "1700000000",
        ])
        #expect(metadata == POSIXMetadata(mode: 0o100644, uid: 7, mtime: ts(1_700_000_000)))
    }

    // MARK: - Malformed input

    @Test(arguments: [
        "", " ", "-1", "-33188", "abc", "33188abc", "0x", "0xg", "0999", "0o644", "99999999999999999999999",
        "200000", "0200000", "0x10000", "1.5", "3e4", "+", "- 1", "0x-1", "81a4",
    ])
    func rejectsMalformedModes(text: String) {
        #expect(POSIXMetadata(userMetadata: ["mode": text]).mode == nil)
    }

    @Test(arguments: ["", "-1", "4294967296", "99999999999999999999999", "1000x", "x", "1.0", "0x", "09"])
    func rejectsMalformedOwners(text: String) {
        #expect(POSIXMetadata(userMetadata: ["uid": text, "gid": text]) == POSIXMetadata())
    }

    @Test(arguments: [
        "", "-", "abc", "1.", ".5", "1.2.3", "1e9", "0x10", "99999999999999999999", "1700000000.5x", "--1",
        "2023-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2023-01-01T24:00:00Z", "2023-01-01T00:00:00",
        "2023-01-01T00:00:00.Z", "2023-01-01T00:00:00Z junk", "2023-01-01", "1.-5",
    ])
    func rejectsMalformedTimes(text: String) {
        #expect(POSIXMetadata(userMetadata: ["mtime": text, "atime": text, "ctime": text]) == POSIXMetadata())
    }

    @Test func readsTimesBeforeTheEpochAsRealNumbers() {
        #expect(POSIXMetadata(userMetadata: ["mtime": "-5"]).mtime == ts(-5))
        #expect(POSIXMetadata(userMetadata: ["mtime": "-1.5"]).mtime == ts(-2, 500_000_000))
        #expect(POSIXMetadata(userMetadata: ["mtime": "-0.000000001"]).mtime == ts(-1, 999_999_999))
        #expect(POSIXMetadata(userMetadata: ["mtime": "-9223372036854775807"]).mtime == ts(-9_223_372_036_854_775_807))
        #expect(POSIXMetadata(userMetadata: ["mtime": "9223372036854775807.5"]).mtime
                    == ts(9_223_372_036_854_775_807, 500_000_000))
        #expect(POSIXMetadata(userMetadata: ["mtime": "-9223372036854775808"]).mtime == ts(.min))
        #expect(POSIXMetadata(userMetadata: ["mtime": "-9223372036854775807.5"]).mtime == ts(.min, 500_000_000))
        #expect(POSIXMetadata(userMetadata: ["mtime": "-9223372036854775808.5"]).mtime == nil)
        #expect(POSIXMetadata(userMetadata: ["mtime": "9223372036854775808"]).mtime == nil)
    }

    @Test func ignoresUnknownAndEmptyMetadata() {
        #expect(POSIXMetadata(userMetadata: [:]) == POSIXMetadata())
        #expect(POSIXMetadata(userMetadata: ["md5chksum": "1B2M2Y8AsgTpgAmY7PhCfg==", "btime": "5"]) == POSIXMetadata())
    }

    // MARK: - xattrs

    @Test func readsS3FSXattrs() {
        // {"user.foo":"YmFy","user.empty":""} URL-encoded by s3fs.
        let header = "%7B%22user.empty%22%3A%22%22%2C%22user.foo%22%3A%22YmFy%22%7D"
        #expect(POSIXMetadata(userMetadata: ["xattr": header]).xattrs == ["user.foo": Array("bar".utf8), "user.empty": []])
    }

    @Test func writesXattrsExactlyAsS3FSDoes() {
        let metadata = POSIXMetadata(xattrs: ["user.b": [0, 1, 2, 0xff], "user.a": Array("hi there?".utf8), "user.c": []])
        // {"user.a":"aGkgdGhlcmU/","user.b":"AAEC/w==","user.c":""}: names in byte order, '/' left as it is.
        #expect(metadata.userMetadata() == [
            "xattr": "%7B%22user.a%22%3A%22aGkgdGhlcmU/%22%2C%22user.b%22%3A%22AAEC/w%3D%3D%22%2C%22user.c%22%3A%22%22%7D",
        ])
    }

    @Test func writesNonASCIINamesAsPercentEncodedUTF8() {
        let metadata = POSIXMetadata(xattrs: ["user.é": [0x41]])
        #expect(metadata.userMetadata()["xattr"] == "%7B%22user.%C3%A9%22%3A%22QQ%3D%3D%22%7D")
    }

    @Test func readsXattrsLeniently() {
        func xattrs(_ header: String) -> [String: [UInt8]] { POSIXMetadata(userMetadata: ["xattr": header]).xattrs }
        #expect(xattrs("") == [:])
        #expect(xattrs("garbage") == [:])
        #expect(xattrs("%7B") == [:])
        #expect(xattrs("}{") == [:])
        #expect(xattrs("{}") == [:])
        // Not URL-encoded, unpadded base64, spaces: still read.
        #expect(xattrs(#"{ "user.a" : "YQ" , "user.b":"YmM=" }"#) == ["user.a": [0x61], "user.b": [0x62, 0x63]])
        // A malformed pair is skipped, the others are kept.
        #expect(xattrs(#"{"user.bad":"!!!!","user.ok":"YQ==","nocolon","user.x"}"#) == ["user.ok": [0x61]])
        #expect(xattrs(#"{"user.a":"YQ==","user.unterminated:"YQ==}"#) == ["user.a": [0x61]])
        // A name that is not UTF-8 is skipped.
        #expect(xattrs("%7B%22user.%FF%22%3A%22YQ%3D%3D%22%7D") == [:])
        // A stray % is kept as it is.
        #expect(xattrs(#"{"user.100%":"YQ=="}"#) == ["user.100%": [0x61]])
        // A repeated name keeps its last value, as s3fs does.
        #expect(xattrs(#"{"user.a":"YQ==","user.a":"Yg=="}"#) == ["user.a": [0x62]])
    }

    // MARK: - Writing and round trips

    @Test func writesTheS3FSForm() {
        let metadata = POSIXMetadata(mode: 0o100644, uid: 1000, gid: 1000, atime: ts(1_700_000_002, 100_000_000),
                                     mtime: ts(1_700_000_000, 5), ctime: ts(1_700_000_001))
        #expect(metadata.userMetadata() == [
            "mode": "33188", "uid": "1000", "gid": "1000", "mtime": "1700000000.000000005",
            "ctime": "1700000001", "atime": "1700000002.100000000",
        ])
        #expect(POSIXMetadata(mode: 0o120777).userMetadata() == ["mode": "41471"])
        #expect(POSIXMetadata(mode: 0o40755).userMetadata() == ["mode": "16877"])
        #expect(POSIXMetadata().userMetadata() == [:])
    }

    @Test func writesTimesBeforeTheEpochAsRealNumbers() {
        #expect(POSIXMetadata(mtime: ts(-2, 500_000_000)).userMetadata() == ["mtime": "-1.500000000"])
        #expect(POSIXMetadata(mtime: ts(-1, 999_999_999)).userMetadata() == ["mtime": "-0.000000001"])
        #expect(POSIXMetadata(mtime: ts(-7)).userMetadata() == ["mtime": "-7"])
    }

    static let roundTrips: [POSIXMetadata] = [
        POSIXMetadata(),
        POSIXMetadata(mode: 0o100644, uid: 1000, gid: 1000, atime: Timestamp(seconds: 1_700_000_000, nanoseconds: 1),
                      mtime: Timestamp(seconds: 1_700_000_000, nanoseconds: 999_999_999),
                      ctime: Timestamp(seconds: 1_700_000_000, nanoseconds: 500_000_000)),
        POSIXMetadata(mode: 0o40755, uid: 0, gid: 0, mtime: Timestamp(seconds: 0)),
        POSIXMetadata(mode: 0o120777, uid: .max, gid: .max, mtime: Timestamp(seconds: .max, nanoseconds: 999_999_999)),
        POSIXMetadata(mode: 0o104755, mtime: Timestamp(seconds: -1, nanoseconds: 1),
                      ctime: Timestamp(seconds: -1_000_000, nanoseconds: 999_999_999)),
        POSIXMetadata(mode: 0o10600, atime: Timestamp(seconds: .min + 1, nanoseconds: 0), mtime: Timestamp(seconds: .min),
                      ctime: Timestamp(seconds: .min, nanoseconds: 1)),
        POSIXMetadata(xattrs: ["user.binary": (0...255).map { UInt8($0) }]),
        POSIXMetadata(mode: 0o100600, xattrs: [
            "user.日本語": Array("値".utf8), "user.emoji🎉": [0xf0, 0x9f], "user.empty": [],
            "user.with,comma:and colon": [1], "security.selinux": Array("system_u:object_r:tmp_t:s0\0".utf8),
            "user.quote\"d": [2], "user.back\\slash": [3], "user.%41": [4], "user.plus+": [5],
        ]),
    ]

    @Test(arguments: roundTrips)
    func encodingThenDecodingGivesTheSameAttributes(metadata: POSIXMetadata) {
        #expect(POSIXMetadata(userMetadata: metadata.userMetadata()) == metadata)
    }

    @Test func everyWrittenModeReadsBackForEveryTypeAndPermission() {
        for type: UInt32 in [0, 0o010000, 0o020000, 0o040000, 0o060000, 0o100000, 0o120000, 0o140000] {
            for permissions in stride(from: UInt32(0), through: 0o7777, by: 0o111) {
                let mode = type | permissions
                #expect(POSIXMetadata(userMetadata: POSIXMetadata(mode: mode).userMetadata()).mode == mode)
            }
        }
    }
}
