#include "xenring/xenstore/xenstore.hpp"

// Debian's xenstore.h has no extern "C" guards.
extern "C" {
#include <xenstore.h>
}

#include <cstdlib>
#include <mutex>

namespace xen9p::xenstore {
namespace {

// libxenstore returns malloc'd memory.
struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
};

template <class T>
using Malloced = std::unique_ptr<T, FreeDeleter>;

// libxenstore reports errors in errno; a missing errno still must not read as success.
std::unexpected<Errno> xs_fail() {
    return fail(errno != 0 ? errno : EIO);
}

unsigned to_xs(char access) {
    switch (access) {
        case 'r':
            return XS_PERM_READ;
        case 'w':
            return XS_PERM_WRITE;
        case 'b':
            return XS_PERM_READ | XS_PERM_WRITE;
        default:
            return XS_PERM_NONE;
    }
}

char from_xs(unsigned perms) {
    const bool r = perms & XS_PERM_READ;
    const bool w = perms & XS_PERM_WRITE;
    return r && w ? 'b' : r ? 'r' : w ? 'w' : 'n';
}

// xs_open reads XENSTORED_PATH from the environment; serialise the swap.
std::mutex env_mutex;

}  // namespace

void Xenstore::Closer::operator()(xs_handle* h) const {
    xs_close(h);
}

Result<Xenstore> Xenstore::open() {
    errno = 0;
    xs_handle* h = xs_open(0);
    if (h == nullptr) return xs_fail();
    return Xenstore(h);
}

Result<Xenstore> Xenstore::open_socket(const std::string& socket_path) {
    std::lock_guard lock(env_mutex);
    const char* old = std::getenv("XENSTORED_PATH");
    std::optional<std::string> saved = old ? std::optional<std::string>(old) : std::nullopt;
    ::setenv("XENSTORED_PATH", socket_path.c_str(), 1);
    auto opened = open();
    if (saved)
        ::setenv("XENSTORED_PATH", saved->c_str(), 1);
    else
        ::unsetenv("XENSTORED_PATH");
    return opened;
}

Result<std::string> Xenstore::read(std::string_view path, Transaction t) {
    unsigned len = 0;
    errno = 0;
    Malloced<char> value(static_cast<char*>(xs_read(handle(), t, std::string(path).c_str(), &len)));
    if (!value) return xs_fail();
    return std::string(value.get(), len);
}

Result<std::optional<std::string>> Xenstore::try_read(std::string_view path, Transaction t) {
    auto value = read(path, t);
    if (value) return std::optional<std::string>(std::move(*value));
    if (value.error().value == ENOENT) return std::optional<std::string>();
    return std::unexpected(value.error());
}

Status Xenstore::write(std::string_view path, std::string_view value, Transaction t) {
    errno = 0;
    if (!xs_write(handle(), t, std::string(path).c_str(), value.data(),
                  static_cast<unsigned>(value.size())))
        return xs_fail();
    return {};
}

Status Xenstore::mkdir(std::string_view path, Transaction t) {
    errno = 0;
    if (!xs_mkdir(handle(), t, std::string(path).c_str())) return xs_fail();
    return {};
}

Status Xenstore::remove(std::string_view path, Transaction t) {
    errno = 0;
    if (!xs_rm(handle(), t, std::string(path).c_str())) return xs_fail();
    return {};
}

Result<std::vector<std::string>> Xenstore::directory(std::string_view path, Transaction t) {
    unsigned num = 0;
    errno = 0;
    Malloced<char*> entries(xs_directory(handle(), t, std::string(path).c_str(), &num));
    if (!entries) return xs_fail();
    return std::vector<std::string>(entries.get(), entries.get() + num);
}

Result<std::vector<XsPermission>> Xenstore::permissions(std::string_view path, Transaction t) {
    unsigned num = 0;
    errno = 0;
    Malloced<xs_permissions> perms(
        xs_get_permissions(handle(), t, std::string(path).c_str(), &num));
    if (!perms) return xs_fail();
    std::vector<XsPermission> out;
    for (unsigned i = 0; i < num; ++i)
        out.push_back({static_cast<DomId>(perms.get()[i].id), from_xs(perms.get()[i].perms)});
    return out;
}

Status Xenstore::set_permissions(std::string_view path, const std::vector<XsPermission>& perms,
                                 Transaction t) {
    std::vector<xs_permissions> raw;
    for (const auto& p : perms) {
        xs_permissions entry{};
        entry.id = p.domid;
        entry.perms = static_cast<decltype(entry.perms)>(to_xs(p.access));
        raw.push_back(entry);
    }
    errno = 0;
    if (!xs_set_permissions(handle(), t, std::string(path).c_str(), raw.data(),
                            static_cast<unsigned>(raw.size())))
        return xs_fail();
    return {};
}

Result<Xenstore::Transaction> Xenstore::transaction_start() {
    errno = 0;
    const xs_transaction_t t = xs_transaction_start(handle());
    if (t == XBT_NULL) return xs_fail();
    return t;
}

Status Xenstore::transaction_end(Transaction t, bool abort) {
    errno = 0;
    if (!xs_transaction_end(handle(), t, abort)) return xs_fail();
    return {};
}

Status Xenstore::watch(std::string_view path, std::string_view token) {
    errno = 0;
    if (!xs_watch(handle(), std::string(path).c_str(), std::string(token).c_str()))
        return xs_fail();
    return {};
}

Status Xenstore::unwatch(std::string_view path, std::string_view token) {
    errno = 0;
    if (!xs_unwatch(handle(), std::string(path).c_str(), std::string(token).c_str()))
        return xs_fail();
    return {};
}

int Xenstore::watch_fd() const {
    return xs_fileno(handle());
}

std::optional<WatchEvent> Xenstore::next_watch_event() {
    Malloced<char*> event(xs_check_watch(handle()));
    if (!event) return std::nullopt;
    return WatchEvent{event.get()[XS_WATCH_PATH], event.get()[XS_WATCH_TOKEN]};
}

Result<std::string> Xenstore::domain_path(DomId domid) {
    errno = 0;
    Malloced<char> path(xs_get_domain_path(handle(), domid));
    if (!path) return xs_fail();
    return std::string(path.get());
}

Result<bool> Xenstore::domain_introduced(DomId domid) {
    // libxenstore answers false both for "no" and for errors; errno tells them apart.
    errno = 0;
    const bool introduced = xs_is_domain_introduced(handle(), domid);
    if (!introduced && errno != 0 && errno != ENOENT) return xs_fail();
    return introduced;
}

Status Xenstore::introduce_domain(DomId domid, std::uint64_t mfn, std::uint32_t event_channel) {
    errno = 0;
    if (!xs_introduce_domain(handle(), domid, mfn, event_channel)) return xs_fail();
    return {};
}

Status Xenstore::release_domain(DomId domid) {
    errno = 0;
    if (!xs_release_domain(handle(), domid)) return xs_fail();
    return {};
}

Status mknod(Xenstore& xs, Xenstore::Transaction t, const std::string& path,
             const std::vector<XsPermission>& perms) {
    if (auto done = xs.mkdir(path, t); !done) return done;
    return xs.set_permissions(path, perms, t);
}

Status remove_if_present(Xenstore& xs, Xenstore::Transaction t, const std::string& path) {
    auto done = xs.remove(path, t);
    if (!done && done.error().value != ENOENT) return done;
    return {};
}

}  // namespace xen9p::xenstore
