// A malicious client's attacks on xen9pd, each a function of one connected
// client transport (a socket or a Xen ring) and a context giving
// what the attack needs from the test around it. Each attack checks with
// Boost.Test that the limit it probes holds with a precise error, and asks
// the context, while the pressure is on, that a second client is still served.
// Call from the test's main thread only (Boost.Test is not thread-safe).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "client/transport.hpp"
#include "tests/hostile/daemon_process.hpp"

namespace xen9p::hostile {

struct AttackContext {
    std::uint32_t msize = 64 * 1024 + 24;  // what the attacker negotiates
    DaemonLimits limits;
    std::string export_dir;   // the export root as the host sees it
    std::string outside_dir;  // next to the export; must stay untouched
    // Asserts that a fresh client on another connection is served now.
    std::function<void()> second_client_works;
    // Breaks the attacker's connection from the client side (unblocks its sends).
    std::function<void()> cut_attacker;
    std::function<Memory()> memory;
    std::function<std::size_t()> open_fds;
};

// Walks max_fids + 64 fids: exactly max_fids are granted, the rest EMFILE;
// clunking frees room again.
void fid_flood(client::ClientTransport& t, const AttackContext& ctx);

// Every tag but NOTAG in flight at once (sent without waiting): each is
// answered exactly once while the daemon holds at most max_in_flight.
void tag_flood(client::ClientTransport& t, const AttackContext& ctx);

// Readdir of <export>/huge (prepared by the caller, `entries` files) with
// counts below one entry and a tiny count: every reply fits its count,
// cookies move forward, and a full listing still sees each name once.
void readdir_tiny_count(client::ClientTransport& t, const AttackContext& ctx, std::size_t entries);

// 16-name walks down <export>/deep (`depth` nested "d" dirs, prepared by the
// caller, with "bottom" in the last), 17 names (EINVAL), 16 ".." from the
// root (stays at the root) and a walk that stops half way (partial qids,
// newfid not created).
void deep_walks(client::ClientTransport& t, const AttackContext& ctx, std::size_t depth);

// Txattrcreate above 64 KiB (E2BIG, also at 2^64-1), exactly 64 KiB accepted.
void xattr_above_64k(client::ClientTransport& t, const AttackContext& ctx);

// Txattrcreate whose announced size is not what is written: more (EINVAL on
// the write), less (EINVAL at clunk, nothing set), a write at a wrong offset.
void xattrcreate_lying(client::ClientTransport& t, const AttackContext& ctx);

// A Twrite whose count claims more than the message holds (EPROTO, the
// connection stays usable), then a message above msize (connection closed).
void twrite_beyond_msize(client::ClientTransport& t, const AttackContext& ctx);

// Lock owners on one open fid past the per-fid bound (ENOLCK), then many
// open fids each with many owners: the daemon's fds come back after clunk.
void lock_flood(client::ClientTransport& t, const AttackContext& ctx);

// Walks through <export>/race/a while the caller swaps it between a directory
// and a symlink to the outside dir: never reads the outside's secret, never
// creates anything outside.
void walk_during_swaps(client::ClientTransport& t, const AttackContext& ctx, std::size_t rounds);

// Sends large reads without ever reading a reply: the daemon stops reading
// (the attacker's sends block), memory stays bounded, others are served.
void never_reads_replies(client::ClientTransport& t, const AttackContext& ctx);

}  // namespace xen9p::hostile
