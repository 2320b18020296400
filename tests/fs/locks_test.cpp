#include "backend/fs/file_locks.hpp"
#include "backend/fs/open_file.hpp"
#include "p9proto/open_flags.hpp"
#include "tests/fs/fs_fixture.hpp"

using namespace xen9p;
using namespace xen9p::fs;
using namespace xen9p::fs::test;
namespace lk = xen9p::p9proto::lock;

namespace {

p9proto::Tlock lock_req(std::uint8_t type, std::uint64_t start, std::uint64_t len,
                        std::uint32_t proc) {
    p9proto::Tlock r;
    r.type = type;
    r.flags = lk::kFlagBlock;
    r.start = start;
    r.length = len;
    r.proc_id = proc;
    r.client_id = p9proto::Text{"guest"};
    return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(locks)

BOOST_AUTO_TEST_CASE(two_proc_ids_on_one_fid_conflict_and_never_block) {
    Fx fx;
    fx.write_file("f", "0123456789");
    auto o = must(open_node(fx.ex, fx.me, must(fx.walk("f")), p9proto::dotl::kRdwr));
    auto& locks = o.file.locks();
    BOOST_TEST(must(locks.lock(fx.ex, fx.me, o.file, lock_req(lk::kWriteLock, 0, 5, 1))) ==
               lk::kStatusSuccess);
    BOOST_TEST(must(locks.lock(fx.ex, fx.me, o.file, lock_req(lk::kWriteLock, 2, 2, 2))) ==
               lk::kStatusBlocked);
    BOOST_TEST(must(locks.lock(fx.ex, fx.me, o.file, lock_req(lk::kReadLock, 5, 5, 2))) ==
               lk::kStatusSuccess);  // disjoint range
    // The owner itself may change its own lock.
    BOOST_TEST(must(locks.lock(fx.ex, fx.me, o.file, lock_req(lk::kReadLock, 0, 5, 1))) ==
               lk::kStatusSuccess);
    BOOST_TEST(must(locks.lock(fx.ex, fx.me, o.file, lock_req(lk::kReadLock, 0, 5, 2))) ==
               lk::kStatusSuccess);  // read locks share
    BOOST_TEST(must(locks.lock(fx.ex, fx.me, o.file, lock_req(lk::kUnlock, 0, 0, 1))) ==
               lk::kStatusSuccess);
    BOOST_TEST(must(locks.lock(fx.ex, fx.me, o.file, lock_req(lk::kWriteLock, 0, 4, 3))) ==
               lk::kStatusBlocked);  // proc 2 still reads 0..5
    BOOST_TEST(must(locks.lock(fx.ex, fx.me, o.file, lock_req(lk::kUnlock, 0, 0, 2))) ==
               lk::kStatusSuccess);
    BOOST_TEST(must(locks.lock(fx.ex, fx.me, o.file, lock_req(lk::kWriteLock, 0, 4, 3))) ==
               lk::kStatusSuccess);
}

BOOST_AUTO_TEST_CASE(locks_conflict_across_fids_and_end_with_the_fid) {
    Fx fx;
    fx.write_file("f", "x");
    Node f = must(fx.walk("f"));
    auto a = must(open_node(fx.ex, fx.me, f, p9proto::dotl::kRdwr));
    {
        auto b = must(open_node(fx.ex, fx.me, f, p9proto::dotl::kRdwr));
        BOOST_TEST(
            must(b.file.locks().lock(fx.ex, fx.me, b.file, lock_req(lk::kWriteLock, 0, 0, 1))) ==
            lk::kStatusSuccess);
        BOOST_TEST(
            must(a.file.locks().lock(fx.ex, fx.me, a.file, lock_req(lk::kWriteLock, 0, 0, 1))) ==
            lk::kStatusBlocked);
    }
    BOOST_TEST(must(a.file.locks().lock(fx.ex, fx.me, a.file, lock_req(lk::kWriteLock, 0, 0, 1))) ==
               lk::kStatusSuccess);
}

BOOST_AUTO_TEST_CASE(getlock_reports_the_conflicting_range_or_unlock) {
    Fx fx;
    fx.write_file("f", "0123456789");
    auto o = must(open_node(fx.ex, fx.me, must(fx.walk("f")), p9proto::dotl::kRdwr));
    must(o.file.locks().lock(fx.ex, fx.me, o.file, lock_req(lk::kWriteLock, 3, 4, 1)));
    p9proto::Tgetlock q;
    q.type = lk::kReadLock;
    q.start = 0;
    q.length = 0;
    q.proc_id = 2;
    q.client_id = p9proto::Text{"guest"};
    auto r = must(o.file.locks().getlock(fx.ex, fx.me, o.file, q));
    BOOST_TEST(r.type == lk::kWriteLock);
    BOOST_TEST(r.start == 3u);
    BOOST_TEST(r.length == 4u);
    q.proc_id = 1;
    BOOST_TEST(must(o.file.locks().getlock(fx.ex, fx.me, o.file, q)).type == lk::kUnlock);
}

BOOST_AUTO_TEST_CASE(getlock_of_type_unlock_reports_any_lock_of_another_owner) {
    // The Linux client's Tgetlock always carries UNLCK.
    Fx fx;
    fx.write_file("f", "0123456789");
    auto o = must(open_node(fx.ex, fx.me, must(fx.walk("f")), p9proto::dotl::kRdwr));
    p9proto::Tgetlock q;
    q.type = lk::kUnlock;
    q.start = 0;
    q.length = 0;
    q.proc_id = 2;
    q.client_id = p9proto::Text{"guest"};
    auto r = must(o.file.locks().getlock(fx.ex, fx.me, o.file, q));
    BOOST_TEST(r.type == lk::kUnlock);
    must(o.file.locks().lock(fx.ex, fx.me, o.file, lock_req(lk::kReadLock, 6, 2, 1)));
    r = must(o.file.locks().getlock(fx.ex, fx.me, o.file, q));
    BOOST_TEST(r.type == lk::kReadLock);
    BOOST_TEST(r.start == 6u);
    BOOST_TEST(r.length == 2u);
    // Its own lock is no conflict.
    q.proc_id = 1;
    BOOST_TEST(must(o.file.locks().getlock(fx.ex, fx.me, o.file, q)).type == lk::kUnlock);
}

BOOST_AUTO_TEST_CASE(lock_errors_bad_type_range_and_access_mode) {
    Fx fx;
    fx.write_file("f", "x");
    auto ro = must(open_node(fx.ex, fx.me, must(fx.walk("f")), p9proto::dotl::kRdonly));
    auto& locks = ro.file.locks();
    BOOST_TEST(err(locks.lock(fx.ex, fx.me, ro.file, lock_req(9, 0, 0, 1))) == EINVAL);
    BOOST_TEST(err(locks.lock(fx.ex, fx.me, ro.file, lock_req(lk::kReadLock, ~0ull, 1, 1))) ==
               EINVAL);
    BOOST_TEST(err(locks.lock(fx.ex, fx.me, ro.file, lock_req(lk::kWriteLock, 0, 0, 1))) == EBADF);
}

// A client_id stays with its owner as long as the fid: a host name's length,
// not 64 KiB (the Linux client sends its nodename, at most 64 bytes).
BOOST_AUTO_TEST_CASE(lock_client_ids_longer_than_a_host_name_are_einval) {
    Fx fx;
    fx.write_file("f", "0123456789");
    auto o = must(open_node(fx.ex, fx.me, must(fx.walk("f")), p9proto::dotl::kRdwr));
    auto& locks = o.file.locks();
    // p9proto::Text views its bytes.
    const std::string longest(FileLocks::kMaxClientIdLength, 'h');
    const std::string nodename(64, 'n');
    const std::string too_long(FileLocks::kMaxClientIdLength + 1, 'h');
    const std::string huge(60000, 'h');
    auto req = lock_req(lk::kWriteLock, 0, 1, 1);
    req.client_id = p9proto::Text{longest};
    BOOST_TEST(must(locks.lock(fx.ex, fx.me, o.file, req)) == lk::kStatusSuccess);
    req.client_id = p9proto::Text{nodename};
    req.start = 1;
    BOOST_TEST(must(locks.lock(fx.ex, fx.me, o.file, req)) == lk::kStatusSuccess);
    req.start = 2;
    req.client_id = p9proto::Text{too_long};
    BOOST_TEST(err(locks.lock(fx.ex, fx.me, o.file, req)) == EINVAL);
    req.client_id = p9proto::Text{huge};
    BOOST_TEST(err(locks.lock(fx.ex, fx.me, o.file, req)) == EINVAL);
    p9proto::Tgetlock q;
    q.type = lk::kUnlock;
    q.proc_id = 2;
    q.client_id = p9proto::Text{huge};
    BOOST_TEST(err(locks.getlock(fx.ex, fx.me, o.file, q)) == EINVAL);
}

BOOST_AUTO_TEST_SUITE_END()
