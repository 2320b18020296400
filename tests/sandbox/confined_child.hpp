// Runs a function in a child process that confines itself as a worker does,
// and hands what the child wrote to its stdout (one line per finding) back to
// the test. The child may be PID 1 of a PID namespace of its own, as the
// launcher makes workers, or share the test's.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <string>

namespace xen9p::test {

constexpr uid_t kWorkerUid = 131072 + 7;
constexpr gid_t kWorkerGid = 131072;

enum class PidNamespace { kShared, kOwn };

struct ChildResult {
    int status = 0;      // waitpid status
    std::string output;  // everything the child wrote to fd 1 or 2
};

// Forks (or clones into a new PID namespace) a child whose fds 0-2 are the
// write end of a pipe and which has no other fd open, runs `body` there and
// _exits with its return value. Kills the child if it outlives the test.
ChildResult run_in_child(PidNamespace pid_ns, const std::function<int()>& body);

// A fresh directory (mode 0711) removed with everything in it on destruction.
struct TempDir {
    std::filesystem::path path;
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

}  // namespace xen9p::test
