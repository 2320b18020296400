// io_uring operations are not syscalls: seccomp does not see them. The
// worker's ring is created disabled, restricted to the opcodes the event
// loop issues and only then enabled, so a compromised worker cannot open a
// socket or a file, link or rename through it.
#include <liburing.h>
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>
#include <set>
#include <sstream>
#include <string>

#include "backend/worker/confinement.hpp"
#include "tests/sandbox/confined_child.hpp"

namespace xen9p::test {
namespace {

// Not in the liburing 2.3 header; kernels since 6.8 know it.
constexpr int kOpFixedFdInstall = 54;

// What io::EventLoop issues itself.
const std::set<int> kIssued = {IORING_OP_READ,    IORING_OP_READV,       IORING_OP_WRITE,
                               IORING_OP_WRITEV,  IORING_OP_FSYNC,       IORING_OP_RECV,
                               IORING_OP_SEND,    IORING_OP_ACCEPT,      IORING_OP_POLL_ADD,
                               IORING_OP_TIMEOUT, IORING_OP_ASYNC_CANCEL};

struct Result final : io::Completion {
    int value = 1;
    void on_complete(int result) override { value = result; }
    ~Result() = default;
};

int last_kernel_op() {
    io_uring_probe* probe = io_uring_get_probe();
    BOOST_REQUIRE(probe != nullptr);
    const int last = probe->last_op;
    io_uring_free_probe(probe);
    return last;
}

// In the confined child: submits every opcode up to `last_op` the loop never
// issues; writes "FAIL ..." for each that is not refused with EACCES. The
// control, an opcode it issues (a poll of no file), must get past the
// restriction to fail on its bad descriptor.
int submit_foreign_ops(int last_op, const std::filesystem::path& export_dir) {
    sandbox::SandboxPolicy policy;
    policy.uid = kWorkerUid;
    policy.gid = kWorkerGid;
    policy.root = export_dir;
    auto confined = worker::confine_worker(policy, fs::ExportConfig{});
    if (!confined) return 10;
    io::EventLoop& loop = confined->loop;
    std::vector<Result> results(static_cast<std::size_t>(last_op) + 1);
    for (int op = 0; op <= last_op; ++op) {
        if (kIssued.contains(op) && op != IORING_OP_POLL_ADD) continue;
        io_uring_sqe sqe{};
        sqe.opcode = static_cast<std::uint8_t>(op);
        sqe.fd = -1;
        loop.submit_raw(sqe, &results[static_cast<std::size_t>(op)]);
    }
    while (loop.pending() > 0) {
        if (!loop.run_once()) return 11;
    }
    std::ostringstream out;
    for (int op = 0; op <= last_op; ++op) {
        const int got = results[static_cast<std::size_t>(op)].value;
        if (op == IORING_OP_POLL_ADD) {
            if (got != -EBADF) out << "FAIL the allowed POLL_ADD completed with " << got << "\n";
        } else if (!kIssued.contains(op) && got != -EACCES) {
            out << "FAIL op " << op << " completed with " << got << "\n";
        }
    }
    out << "DONE\n";
    const std::string text = out.str();
    (void)!::write(1, text.data(), text.size());
    return 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(confined_worker)

BOOST_AUTO_TEST_CASE(the_ring_refuses_every_opcode_the_event_loop_does_not_issue) {
    const int last_op = last_kernel_op();
    // The ones a compromised worker would want first must all be covered.
    for (const int op : std::initializer_list<int>{
             IORING_OP_SOCKET, IORING_OP_OPENAT, IORING_OP_OPENAT2, IORING_OP_CONNECT,
             IORING_OP_STATX, IORING_OP_RENAMEAT, IORING_OP_UNLINKAT, IORING_OP_MKDIRAT,
             IORING_OP_LINKAT, IORING_OP_SYMLINKAT, IORING_OP_SPLICE, IORING_OP_PROVIDE_BUFFERS,
             IORING_OP_FILES_UPDATE, IORING_OP_MSG_RING, IORING_OP_URING_CMD, kOpFixedFdInstall}) {
        BOOST_TEST(op <= last_op);
        BOOST_TEST(!kIssued.contains(op));
    }
    TempDir dir;
    const auto export_dir = dir.path / "export";
    std::filesystem::create_directory(export_dir);
    auto result =
        run_in_child(PidNamespace::kOwn, [&] { return submit_foreign_ops(last_op, export_dir); });
    BOOST_TEST(WIFEXITED(result.status));
    BOOST_TEST((WIFEXITED(result.status) ? WEXITSTATUS(result.status) : -1) == 0);
    std::istringstream lines(result.output);
    std::string line;
    bool done = false;
    while (std::getline(lines, line)) {
        BOOST_TEST(!line.starts_with("FAIL"), line);
        done = done || line == "DONE";
    }
    BOOST_TEST(done, result.output);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::test
