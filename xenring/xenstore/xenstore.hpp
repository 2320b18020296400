// A connection to xenstored through the real libxenstore (xs_open), with
// errors as values. Against the simulated xenstored, point XENSTORED_PATH at
// its socket (or use open_socket); the code is the same on Xen.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/domid.hpp"
#include "base/errno.hpp"

struct xs_handle;

namespace xen9p::xenstore {

// One entry of a node's permission list, as xenstore-chmod writes them:
// 'n' none, 'r' read, 'w' write, 'b' both. The first entry names the owner
// and the permission of every domain not listed.
struct XsPermission {
    DomId domid = 0;
    char access = 'n';
    friend bool operator==(const XsPermission&, const XsPermission&) = default;
};

struct WatchEvent {
    std::string path;
    std::string token;
};

class Xenstore {
  public:
    using Transaction = std::uint32_t;
    static constexpr Transaction kNoTransaction = 0;

    // xs_open(0): XENSTORED_PATH if set, else the system's xenstored.
    static Result<Xenstore> open();
    // Connects to the xenstored listening on `socket_path` (the simulated one).
    static Result<Xenstore> open_socket(const std::string& socket_path);

    Result<std::string> read(std::string_view path, Transaction t = kNoTransaction);
    // read() that maps ENOENT to nullopt.
    Result<std::optional<std::string>> try_read(std::string_view path,
                                                Transaction t = kNoTransaction);
    Status write(std::string_view path, std::string_view value, Transaction t = kNoTransaction);
    Status mkdir(std::string_view path, Transaction t = kNoTransaction);
    Status remove(std::string_view path, Transaction t = kNoTransaction);
    Result<std::vector<std::string>> directory(std::string_view path,
                                               Transaction t = kNoTransaction);
    Result<std::vector<XsPermission>> permissions(std::string_view path,
                                                  Transaction t = kNoTransaction);
    Status set_permissions(std::string_view path, const std::vector<XsPermission>& perms,
                           Transaction t = kNoTransaction);

    Result<Transaction> transaction_start();
    // EAGAIN: the transaction conflicted and must be retried from the start.
    Status transaction_end(Transaction t, bool abort = false);

    Status watch(std::string_view path, std::string_view token);
    Status unwatch(std::string_view path, std::string_view token);
    // Readable when watch events are pending.
    int watch_fd() const;
    // The next pending watch event without blocking, if any.
    std::optional<WatchEvent> next_watch_event();

    Result<std::string> domain_path(DomId domid);
    Result<bool> domain_introduced(DomId domid);
    Status introduce_domain(DomId domid, std::uint64_t mfn, std::uint32_t event_channel);
    Status release_domain(DomId domid);

    xs_handle* handle() const { return handle_.get(); }

  private:
    struct Closer {
        void operator()(xs_handle* h) const;
    };
    explicit Xenstore(xs_handle* h) : handle_(h) {}
    std::unique_ptr<xs_handle, Closer> handle_;
};

// libxl__xs_mknod: an empty node with the given permissions.
Status mknod(Xenstore& xs, Xenstore::Transaction t, const std::string& path,
             const std::vector<XsPermission>& perms);
// Removes `path` and what is below it; a missing node is no error.
Status remove_if_present(Xenstore& xs, Xenstore::Transaction t, const std::string& path);

// Runs `body(transaction)` until its transaction commits without conflict
// (bounded: EAGAIN after `attempts` conflicts).
template <class Body>
Status in_transaction(Xenstore& xs, Body&& body, int attempts = 16) {
    for (int i = 0; i < attempts; ++i) {
        auto t = xs.transaction_start();
        if (!t) return std::unexpected(t.error());
        Status done = body(*t);
        if (!done) {
            (void)xs.transaction_end(*t, /*abort=*/true);
            return done;
        }
        auto end = xs.transaction_end(*t);
        if (end) return {};
        if (end.error().value != EAGAIN) return end;
    }
    return fail(EAGAIN);
}

}  // namespace xen9p::xenstore
