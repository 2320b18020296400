#include "tests/fuzz/fault_script.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace xen9p::fuzz {

namespace {

constexpr std::size_t kPage = 4096;
constexpr greg_t kTrapFlag = 0x100;

// Process-wide: the signal handlers reach it without arguments.
struct State {
    std::byte* arena = nullptr;
    std::size_t arena_size = 0;
    Window windows[kMaxWindows];
    std::size_t window_count = 0;
    Change changes[kMaxChanges];
    std::size_t change_count = 0;
    std::size_t next = 0;
    bool armed = false;     // windows closed, the next access applies a change
    bool stepping = false;  // windows open for one instruction
    struct sigaction old_segv {};
};
State g;

[[noreturn]] void die(const char* why) {
    // Async-signal-safe: no stdio, no allocation. abort() lets libFuzzer keep the input.
    if (::write(STDERR_FILENO, why, std::strlen(why)) < 0) std::abort();
    std::abort();
}

int prot_of(Access access) {
    switch (access) {
        case Access::kNone:
            return PROT_NONE;
        case Access::kRead:
            return PROT_READ;
        case Access::kReadWrite:
            return PROT_READ | PROT_WRITE;
    }
    return PROT_NONE;
}

void protect(std::byte* at, std::size_t size, int prot) {
    if (::mprotect(at, size, prot) != 0) die("fault_script: mprotect failed\n");
}

void open_windows(bool open) {
    for (std::size_t i = 0; i < g.window_count; ++i) {
        const Window& w = g.windows[i];
        protect(w.at, w.size, open ? prot_of(w.access) : PROT_NONE);
    }
}

const Window* window_of(const std::byte* at) {
    for (std::size_t i = 0; i < g.window_count; ++i) {
        const Window& w = g.windows[i];
        if (at >= w.at && at < w.at + w.size) return &w;
    }
    return nullptr;
}

void apply(const Change& change) {
    const Window* w = window_of(change.at);
    if (w == nullptr) die("fault_script: change outside the windows\n");
    protect(w->at, w->size, PROT_READ | PROT_WRITE);
    if (change.width == 1) {
        *change.at = static_cast<std::byte>(change.value);
    } else {
        std::memcpy(change.at, &change.value, sizeof change.value);
    }
}

void on_segv(int sig, siginfo_t* info, void* context) {
    auto* at = static_cast<std::byte*>(info->si_addr);
    if (at < g.arena || at >= g.arena + g.arena_size) {
        // Not ours: the previous handler (ASan, libFuzzer) reports it.
        if (g.old_segv.sa_flags & SA_SIGINFO) return g.old_segv.sa_sigaction(sig, info, context);
        ::signal(SIGSEGV, SIG_DFL);
        return;
    }
    if (window_of(at) == nullptr) die("fault_script: access outside the shared area\n");
    if (!g.armed || g.stepping) die("fault_script: access the shared area does not allow\n");
    apply(g.changes[g.next++]);
    open_windows(true);
    g.stepping = true;
    static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_EFL] |= kTrapFlag;
}

void on_trap(int, siginfo_t*, void* context) {
    if (!g.stepping) die("fault_script: unexpected SIGTRAP\n");
    static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_EFL] &= ~kTrapFlag;
    g.stepping = false;
    if (g.next < g.change_count) {
        open_windows(false);
    } else {
        g.armed = false;
    }
}

}  // namespace

FaultScript& FaultScript::create(std::size_t size) {
    static FaultScript instance;
    size = (size + kPage - 1) / kPage * kPage;
    void* p = ::mmap(nullptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) die("fault_script: mmap failed\n");
    g.arena = static_cast<std::byte*>(p);
    g.arena_size = size;
    struct sigaction segv {};
    segv.sa_sigaction = on_segv;
    segv.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&segv.sa_mask);
    if (::sigaction(SIGSEGV, &segv, &g.old_segv) != 0) die("fault_script: sigaction failed\n");
    struct sigaction trap {};
    trap.sa_sigaction = on_trap;
    trap.sa_flags = SA_SIGINFO;
    sigemptyset(&trap.sa_mask);
    if (::sigaction(SIGTRAP, &trap, nullptr) != 0) die("fault_script: sigaction failed\n");
    return instance;
}

std::byte* FaultScript::arena() const {
    return g.arena;
}

std::size_t FaultScript::arena_size() const {
    return g.arena_size;
}

void FaultScript::set_windows(std::span<const Window> windows) {
    if (windows.size() > kMaxWindows) die("fault_script: too many windows\n");
    protect(g.arena, g.arena_size, PROT_NONE);
    g.window_count = windows.size();
    for (std::size_t i = 0; i < windows.size(); ++i) {
        const Window& w = windows[i];
        if (w.at < g.arena || w.at + w.size > g.arena + g.arena_size)
            die("fault_script: window outside the arena\n");
        g.windows[i] = w;
    }
    open_windows(true);
}

void FaultScript::arm(std::span<const Change> changes) {
    g.change_count = std::min(changes.size(), kMaxChanges);
    for (std::size_t i = 0; i < g.change_count; ++i)
        g.changes[i] = changes[i];
    g.next = 0;
    g.armed = g.change_count != 0;
    if (g.armed) open_windows(false);
}

std::size_t FaultScript::disarm() {
    if (g.armed) open_windows(true);
    g.armed = false;
    return g.next;
}

}  // namespace xen9p::fuzz
