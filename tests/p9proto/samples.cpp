#include "tests/p9proto/samples.hpp"

#include <array>

namespace xen9p::p9proto::test {
namespace {

std::uint8_t t(MsgType type) {
    return static_cast<std::uint8_t>(type);
}

const std::string_view kPayload = "hello, 9p";

std::span<const std::byte> payload() {
    return as_span(kPayload);
}

// Two packed readdir entries: "." and "file.txt".
const Bytes& dirents() {
    static const Bytes bytes = [] {
        Wire w;
        w.qid(0x80, 1, 0x1000).u64(1).u8(4).str(".");
        w.qid(0x00, 2, 0x1001).u64(2).u8(8).str("file.txt");
        return w.body();
    }();
    return bytes;
}

}  // namespace

std::vector<RequestSample> request_samples() {
    std::vector<RequestSample> s;
    // Written out byte by byte: msize 524288, "9P2000.L", tag NOTAG.
    s.push_back({"Tversion", Request{kNoTag, Tversion{524288, Text{"9P2000.L"}}},
                 hex("15 00 00 00 64 ff ff 00 00 08 00 08 00 39 50 32 30 30 30 2e 4c")});
    s.push_back({"Tauth", Request{1, Tauth{5, Text{"root"}, Text{"/srv"}, 0}},
                 Wire().u32(5).str("root").str("/srv").u32(0).message(t(MsgType::Tauth), 1)});
    s.push_back({"Tattach", Request{2, Tattach{1, kNoFid, Text{"user"}, Text{""}, 1000}},
                 Wire()
                     .u32(1)
                     .u32(0xffffffff)
                     .str("user")
                     .str("")
                     .u32(1000)
                     .message(t(MsgType::Tattach), 2)});
    s.push_back({"Tflush", Request{3, Tflush{7}}, Wire().u16(7).message(t(MsgType::Tflush), 3)});
    {
        Twalk walk{1, 2, {}};
        walk.names.names[0] = WalkName{"usr"};
        walk.names.names[1] = WalkName{"lib"};
        walk.names.names[2] = WalkName{"x"};
        walk.names.count = 3;
        // Written out byte by byte: fid 1, newfid 2, "usr" "lib" "x".
        s.push_back({"Twalk", Request{1, walk},
                     hex("1e 00 00 00 6e 01 00 01 00 00 00 02 00 00 00 03 00"
                         "03 00 75 73 72 03 00 6c 69 62 01 00 78")});
    }
    s.push_back({"Tread", Request{4, Tread{3, 0x1122334455667788, 8192}},
                 Wire().u32(3).u64(0x1122334455667788).u32(8192).message(t(MsgType::Tread), 4)});
    s.push_back({"Twrite", Request{5, Twrite{3, 4096, Data{payload()}}},
                 Wire()
                     .u32(3)
                     .u64(4096)
                     .u32(kPayload.size())
                     .raw(kPayload)
                     .message(t(MsgType::Twrite), 5)});
    s.push_back({"Tclunk", Request{6, Tclunk{9}}, Wire().u32(9).message(t(MsgType::Tclunk), 6)});
    s.push_back({"Tremove", Request{7, Tremove{9}}, Wire().u32(9).message(t(MsgType::Tremove), 7)});
    s.push_back({"Tstatfs", Request{8, Tstatfs{1}}, Wire().u32(1).message(t(MsgType::Tstatfs), 8)});
    s.push_back({"Tlopen", Request{9, Tlopen{4, 0102}},
                 Wire().u32(4).u32(0102).message(t(MsgType::Tlopen), 9)});
    s.push_back({"Tlcreate", Request{10, Tlcreate{4, Name{"new.txt"}, 0101, 0644, 100}},
                 Wire().u32(4).str("new.txt").u32(0101).u32(0644).u32(100).message(
                     t(MsgType::Tlcreate), 10)});
    s.push_back(
        {"Tsymlink", Request{11, Tsymlink{4, Name{"link"}, Target{"../a/b"}, 100}},
         Wire().u32(4).str("link").str("../a/b").u32(100).message(t(MsgType::Tsymlink), 11)});
    s.push_back({"Tmknod", Request{12, Tmknod{4, Name{"fifo"}, 010644, 1, 2, 100}},
                 Wire().u32(4).str("fifo").u32(010644).u32(1).u32(2).u32(100).message(
                     t(MsgType::Tmknod), 12)});
    s.push_back({"Trename", Request{13, Trename{5, 6, Name{"b"}}},
                 Wire().u32(5).u32(6).str("b").message(t(MsgType::Trename), 13)});
    s.push_back(
        {"Treadlink", Request{14, Treadlink{5}}, Wire().u32(5).message(t(MsgType::Treadlink), 14)});
    s.push_back({"Tgetattr", Request{15, Tgetattr{5, getattr::kAll}},
                 Wire().u32(5).u64(0x3fff).message(t(MsgType::Tgetattr), 15)});
    s.push_back({"Tsetattr",
                 Request{16, Tsetattr{5, 0x1ff, 0755, 1000, 1001, 12345, 11, 12, 13, 14}},
                 Wire()
                     .u32(5)
                     .u32(0x1ff)
                     .u32(0755)
                     .u32(1000)
                     .u32(1001)
                     .u64(12345)
                     .u64(11)
                     .u64(12)
                     .u64(13)
                     .u64(14)
                     .message(t(MsgType::Tsetattr), 16)});
    s.push_back({"Txattrwalk", Request{17, Txattrwalk{5, 6, XattrName{"user.x"}}},
                 Wire().u32(5).u32(6).str("user.x").message(t(MsgType::Txattrwalk), 17)});
    s.push_back({"Txattrcreate", Request{18, Txattrcreate{5, XattrName{"user.y"}, 42, 1}},
                 Wire().u32(5).str("user.y").u64(42).u32(1).message(t(MsgType::Txattrcreate), 18)});
    // Written out byte by byte: fid 7, offset 0x0102030405060708, count 8168.
    s.push_back({"Treaddir", Request{5, Treaddir{7, 0x0102030405060708, 8168}},
                 hex("17 00 00 00 28 05 00 07 00 00 00 08 07 06 05 04 03 02 01 e8 1f 00 00")});
    s.push_back({"Tfsync", Request{19, Tfsync{5, 1}},
                 Wire().u32(5).u32(1).message(t(MsgType::Tfsync), 19)});
    s.push_back({"Tlock",
                 Request{20, Tlock{5, lock::kWriteLock, lock::kFlagBlock, 100, 200, 4242,
                                   Text{"client-1"}}},
                 Wire()
                     .u32(5)
                     .u8(1)
                     .u32(1)
                     .u64(100)
                     .u64(200)
                     .u32(4242)
                     .str("client-1")
                     .message(t(MsgType::Tlock), 20)});
    s.push_back({"Tgetlock",
                 Request{21, Tgetlock{5, lock::kReadLock, 0, 0, 4243, Text{"client-2"}}},
                 Wire()
                     .u32(5)
                     .u8(0)
                     .u64(0)
                     .u64(0)
                     .u32(4243)
                     .str("client-2")
                     .message(t(MsgType::Tgetlock), 21)});
    s.push_back({"Tlink", Request{22, Tlink{4, 5, Name{"hard"}}},
                 Wire().u32(4).u32(5).str("hard").message(t(MsgType::Tlink), 22)});
    s.push_back({"Tmkdir", Request{23, Tmkdir{4, Name{"dir"}, 0755, 100}},
                 Wire().u32(4).str("dir").u32(0755).u32(100).message(t(MsgType::Tmkdir), 23)});
    s.push_back({"Trenameat", Request{24, Trenameat{4, Name{"old"}, 8, Name{"new"}}},
                 Wire().u32(4).str("old").u32(8).str("new").message(t(MsgType::Trenameat), 24)});
    s.push_back({"Tunlinkat", Request{25, Tunlinkat{4, Name{"gone"}, kAtRemoveDir}},
                 Wire().u32(4).str("gone").u32(0x200).message(t(MsgType::Tunlinkat), 25)});
    return s;
}

std::vector<ReplySample> reply_samples() {
    std::vector<ReplySample> s;
    const Qid qid{qid_type::kDir, 7, 0x0123456789abcdef};
    auto q = [](Wire& w) -> Wire& { return w.qid(0x80, 7, 0x0123456789abcdef); };
    s.push_back({"Rlerror", Reply{1, Rlerror{2}}, Wire().u32(2).message(t(MsgType::Rlerror), 1)});
    s.push_back({"Rversion", Reply{kNoTag, Rversion{131096, Text{"9P2000.L"}}},
                 Wire().u32(131096).str("9P2000.L").message(t(MsgType::Rversion), kNoTag)});
    {
        Wire w;
        s.push_back({"Rauth", Reply{2, Rauth{qid}}, q(w).message(t(MsgType::Rauth), 2)});
    }
    {
        Wire w;
        s.push_back({"Rattach", Reply{3, Rattach{qid}}, q(w).message(t(MsgType::Rattach), 3)});
    }
    s.push_back({"Rflush", Reply{4, Rflush{}}, Wire().message(t(MsgType::Rflush), 4)});
    {
        Rwalk walk;
        walk.qids.qids[0] = qid;
        walk.qids.qids[1] = Qid{0, 1, 2};
        walk.qids.count = 2;
        Wire w;
        w.u16(2);
        q(w).qid(0, 1, 2);
        s.push_back({"Rwalk", Reply{5, walk}, w.message(t(MsgType::Rwalk), 5)});
    }
    s.push_back({"Rread", Reply{6, Rread{Data{payload()}}},
                 Wire().u32(kPayload.size()).raw(kPayload).message(t(MsgType::Rread), 6)});
    s.push_back(
        {"Rwrite", Reply{7, Rwrite{4096}}, Wire().u32(4096).message(t(MsgType::Rwrite), 7)});
    s.push_back({"Rclunk", Reply{8, Rclunk{}}, Wire().message(t(MsgType::Rclunk), 8)});
    s.push_back({"Rremove", Reply{9, Rremove{}}, Wire().message(t(MsgType::Rremove), 9)});
    s.push_back({"Rstatfs",
                 Reply{10, Rstatfs{0x01021994, 4096, 1000, 900, 800, 500, 400, 0xdeadbeef, 255}},
                 Wire()
                     .u32(0x01021994)
                     .u32(4096)
                     .u64(1000)
                     .u64(900)
                     .u64(800)
                     .u64(500)
                     .u64(400)
                     .u64(0xdeadbeef)
                     .u32(255)
                     .message(t(MsgType::Rstatfs), 10)});
    {
        Wire w;
        q(w).u32(8192);
        s.push_back({"Rlopen", Reply{11, Rlopen{qid, 8192}}, w.message(t(MsgType::Rlopen), 11)});
    }
    {
        Wire w;
        q(w).u32(0);
        s.push_back({"Rlcreate", Reply{12, Rlcreate{qid, 0}}, w.message(t(MsgType::Rlcreate), 12)});
    }
    {
        Wire w;
        s.push_back({"Rsymlink", Reply{13, Rsymlink{qid}}, q(w).message(t(MsgType::Rsymlink), 13)});
    }
    {
        Wire w;
        s.push_back({"Rmknod", Reply{14, Rmknod{qid}}, q(w).message(t(MsgType::Rmknod), 14)});
    }
    s.push_back({"Rrename", Reply{15, Rrename{}}, Wire().message(t(MsgType::Rrename), 15)});
    s.push_back({"Rreadlink", Reply{16, Rreadlink{Target{"/etc/passwd"}}},
                 Wire().str("/etc/passwd").message(t(MsgType::Rreadlink), 16)});
    {
        // Every field set to a distinct value.
        Rgetattr a{getattr::kAll, qid,  0100644,    1000,       1001, 2,          0x0801,
                   123456,        4096, 248,        1700000001, 101,  1700000002, 102,
                   1700000003,    103,  1700000004, 104,        77,   88};
        Wire w;
        w.u64(0x3fff);
        q(w).u32(0100644).u32(1000).u32(1001).u64(2).u64(0x0801).u64(123456).u64(4096).u64(248);
        w.u64(1700000001).u64(101).u64(1700000002).u64(102).u64(1700000003).u64(103);
        w.u64(1700000004).u64(104).u64(77).u64(88);
        s.push_back({"Rgetattr", Reply{17, a}, w.message(t(MsgType::Rgetattr), 17)});
    }
    s.push_back({"Rsetattr", Reply{18, Rsetattr{}}, Wire().message(t(MsgType::Rsetattr), 18)});
    s.push_back({"Rxattrwalk", Reply{19, Rxattrwalk{1234}},
                 Wire().u64(1234).message(t(MsgType::Rxattrwalk), 19)});
    s.push_back(
        {"Rxattrcreate", Reply{20, Rxattrcreate{}}, Wire().message(t(MsgType::Rxattrcreate), 20)});
    s.push_back({"Rreaddir", Reply{21, Rreaddir{Data{dirents()}}},
                 Wire()
                     .u32(dirents().size())
                     .raw({reinterpret_cast<const char*>(dirents().data()), dirents().size()})
                     .message(t(MsgType::Rreaddir), 21)});
    s.push_back({"Rfsync", Reply{22, Rfsync{}}, Wire().message(t(MsgType::Rfsync), 22)});
    s.push_back({"Rlock", Reply{23, Rlock{lock::kStatusBlocked}},
                 Wire().u8(1).message(t(MsgType::Rlock), 23)});
    s.push_back(
        {"Rgetlock", Reply{24, Rgetlock{lock::kWriteLock, 10, 20, 99, Text{"host"}}},
         Wire().u8(1).u64(10).u64(20).u32(99).str("host").message(t(MsgType::Rgetlock), 24)});
    s.push_back({"Rlink", Reply{25, Rlink{}}, Wire().message(t(MsgType::Rlink), 25)});
    {
        Wire w;
        s.push_back({"Rmkdir", Reply{26, Rmkdir{qid}}, q(w).message(t(MsgType::Rmkdir), 26)});
    }
    s.push_back({"Rrenameat", Reply{27, Rrenameat{}}, Wire().message(t(MsgType::Rrenameat), 27)});
    s.push_back({"Runlinkat", Reply{28, Runlinkat{}}, Wire().message(t(MsgType::Runlinkat), 28)});
    return s;
}

UStat sample_stat() {
    UStat st;
    st.type = 0;
    st.dev = 0;
    st.qid = Qid{qid_type::kSymlink, 0, 0x42};
    st.mode = dm::kSymlink | 0777;
    st.atime = 1700000000;
    st.mtime = 1700000001;
    st.length = 1;
    st.name = Text{"ln"};
    st.uid = Text{""};
    st.gid = Text{""};
    st.muid = Text{""};
    st.extension = Text{"t"};
    st.n_uid = 1000;
    st.n_gid = 100;
    st.n_muid = 0;
    return st;
}

Bytes sample_stat_record() {
    // size[2] counts what follows it: 2+4+13+4+4+4+8 + 5 strings (13) + 12 = 64.
    Wire w;
    w.u16(64).u16(0).u32(0).qid(qid_type::kSymlink, 0, 0x42);
    w.u32(0x02000000 | 0777).u32(1700000000).u32(1700000001).u64(1);
    w.str("ln").str("").str("").str("").str("t").u32(1000).u32(100).u32(0);
    return w.body();
}

std::vector<RequestSample> u_request_samples() {
    std::vector<RequestSample> s;
    // p9_client_open: "db" fid, mode (ORDWR|OTRUNC).
    s.push_back({"Topen", Request{40, Topen{4, 0x12}}, hex("0c 00 00 00 70 28 00 04 00 00 00 12")});
    // p9_client_fcreate: "dsdb?s" fid, name, perm, mode, extension.
    s.push_back({"Tcreate",
                 Request{41, Tcreate{4, Name{"dev"}, dm::kDevice | 0600, 0, Text{"c 1 3"}}},
                 Wire()
                     .u32(4)
                     .str("dev")
                     .u32(0x00800000 | 0600)
                     .u8(0)
                     .str("c 1 3")
                     .message(t(MsgType::Tcreate), 41)});
    s.push_back({"Tstat", Request{42, Tstat{4}}, Wire().u32(4).message(t(MsgType::Tstat), 42)});
    {
        // p9_client_wstat: "dwS" fid, the stat's size + 2, the stat.
        Wire w;
        w.u32(4).u16(66).raw(
            std::string_view(reinterpret_cast<const char*>(sample_stat_record().data()),
                             sample_stat_record().size()));
        s.push_back({"Twstat", Request{43, Twstat{4, WrappedStat{sample_stat()}}},
                     w.message(t(MsgType::Twstat), 43)});
    }
    return s;
}

std::vector<ReplySample> u_reply_samples() {
    std::vector<ReplySample> s;
    // Written out byte by byte: "No such file or directory", errno 2.
    s.push_back({"Rerror", Reply{1, Rerror{Text{"No such file or directory"}, 2}},
                 hex("26 00 00 00 6b 01 00 19 00 4e 6f 20 73 75 63 68 20 66 69 6c 65 20 6f 72"
                     "20 64 69 72 65 63 74 6f 72 79 02 00 00 00")});
    s.push_back({"Ropen", Reply{40, Ropen{Qid{qid_type::kDir, 3, 0x10}, 0}},
                 Wire().qid(0x80, 3, 0x10).u32(0).message(t(MsgType::Ropen), 40)});
    s.push_back({"Rcreate", Reply{41, Rcreate{Qid{0, 1, 0x11}, 8192}},
                 Wire().qid(0, 1, 0x11).u32(8192).message(t(MsgType::Rcreate), 41)});
    {
        Wire w;
        w.u16(66).raw(std::string_view(reinterpret_cast<const char*>(sample_stat_record().data()),
                                       sample_stat_record().size()));
        s.push_back({"Rstat", Reply{42, Rstat{WrappedStat{sample_stat()}}},
                     w.message(t(MsgType::Rstat), 42)});
    }
    s.push_back({"Rwstat", Reply{43, Rwstat{}}, Wire().message(t(MsgType::Rwstat), 43)});
    return s;
}

}  // namespace xen9p::p9proto::test
