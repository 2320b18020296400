#include "bench/driver/ninep_fs.hpp"

#include <deque>

#include "client/operations.hpp"
#include "p9proto/open_flags.hpp"

namespace xen9p::bench {
namespace {

constexpr std::uint32_t kRootFid = 0;

// Splits "a/b/c" into its components ("" and "." give none).
std::vector<std::string_view> components(std::string_view path) {
    std::vector<std::string_view> names;
    while (!path.empty()) {
        auto slash = path.find('/');
        auto name = path.substr(0, slash);
        if (!name.empty() && name != ".") names.push_back(name);
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash + 1);
    }
    return names;
}

// The reply was R (its content is not needed).
template <class R>
Status expect_ok(const Result<client::OwnedReply>& reply) {
    if (!reply) return std::unexpected(reply.error());
    auto body = client::expect<R>(*reply);
    if (!body) return std::unexpected(body.error());
    return {};
}

}  // namespace

Result<std::unique_ptr<NinepFs>> NinepFs::connect(
    std::unique_ptr<client::ClientTransport> transport, std::uint32_t msize,
    const std::string& aname) {
    auto client = std::make_unique<client::Client>(std::move(transport));
    if (auto negotiated = client->negotiate(msize); !negotiated) {
        return std::unexpected(negotiated.error());
    }
    if (auto root = client::attach(*client, kRootFid, "root", aname, 0); !root) {
        return std::unexpected(root.error());
    }
    return std::unique_ptr<NinepFs>(new NinepFs(std::move(client)));
}

std::uint32_t NinepFs::allocate_fid() {
    if (free_fids_.empty()) return next_fid_++;
    auto fid = free_fids_.back();
    free_fids_.pop_back();
    return fid;
}

void NinepFs::release_fid(std::uint32_t fid) {
    free_fids_.push_back(fid);
}

NinepFs::~NinepFs() {
    (void)client::clunk(*client_, kRootFid);
}

std::uint32_t NinepFs::max_io() const {
    return client::io_chunk(*client_);
}

Result<Handle> NinepFs::walk(std::string_view path) {
    const auto names = components(path);
    auto fid = allocate_fid();
    // A Twalk takes at most 16 names: a longer path walks on from the new
    // fid, 16 at a time, as the Linux client does.
    std::span<const std::string_view> rest(names);
    std::uint32_t from = kRootFid;
    do {
        auto step = rest.first(std::min<std::size_t>(rest.size(), p9proto::kMaxWalkElems));
        if (auto qids = client::walk(*client_, from, fid, step); !qids) {
            if (from == fid) (void)client::clunk(*client_, fid);
            release_fid(fid);
            return std::unexpected(qids.error());
        }
        from = fid;
        rest = rest.subspan(step.size());
    } while (!rest.empty());
    return fid;
}

Result<Handle> NinepFs::open(std::string_view path, int flags) {
    auto fid = walk(path);
    if (!fid) return fid;
    if (auto opened = client::lopen(*client_, *fid, p9proto::dotl_open_flags(flags)); !opened) {
        (void)close(*fid);
        return std::unexpected(opened.error());
    }
    return fid;
}

Result<Handle> NinepFs::create(Handle dir, std::string_view name, int flags, std::uint32_t mode) {
    auto fid = allocate_fid();
    if (auto clone = client::walk(*client_, dir, fid, {}); !clone) {
        release_fid(fid);
        return std::unexpected(clone.error());
    }
    auto reply = client_->call(p9proto::Tlcreate{.fid = fid,
                                                 .name = {name},
                                                 .flags = p9proto::dotl_open_flags(flags),
                                                 .mode = mode,
                                                 .gid = 0});
    if (auto status = expect_ok<p9proto::Rlcreate>(reply); !status) {
        (void)close(fid);
        return std::unexpected(status.error());
    }
    return fid;
}

Status NinepFs::close(Handle handle) {
    auto status = client::clunk(*client_, handle);
    // The server forgets the fid even when Tclunk fails, so it is free either way.
    release_fid(handle);
    return status;
}

Status NinepFs::getattr(Handle handle) {
    auto reply =
        client_->call(p9proto::Tgetattr{.fid = handle, .request_mask = p9proto::getattr::kBasic});
    return expect_ok<p9proto::Rgetattr>(reply);
}

Status NinepFs::unlink(Handle dir, std::string_view name) {
    if (!unlinkat_unsupported_) {
        auto reply = client_->call(p9proto::Tunlinkat{.dirfid = dir, .name = {name}, .flags = 0});
        auto status = expect_ok<p9proto::Runlinkat>(reply);
        if (status || status.error() != Errno{EOPNOTSUPP}) return status;
        unlinkat_unsupported_ = true;
    }
    auto fid = allocate_fid();
    std::string_view names[] = {name};
    if (auto walked = client::walk(*client_, dir, fid, names); !walked) {
        release_fid(fid);
        return std::unexpected(walked.error());
    }
    // Tremove clunks the fid whatever the outcome.
    auto reply = client_->call(p9proto::Tremove{.fid = fid});
    release_fid(fid);
    return expect_ok<p9proto::Rremove>(reply);
}

Result<std::uint64_t> NinepFs::readdir(Handle dir) {
    // Count, as direct does: a string per entry would make the client the
    // bottleneck of every 9P target alike.
    return client::readdir_each(*client_, dir, [](const p9proto::Dirent&) {});
}

Result<std::uint64_t> NinepFs::io(Handle file, IoKind kind, const NextOp& next, unsigned depth,
                                  std::span<std::byte> buffer) {
    struct InFlight {
        std::uint16_t tag;
        std::uint32_t length;
    };
    std::deque<InFlight> in_flight;
    std::uint64_t moved = 0;
    bool more = true;
    if (depth == 0) depth = 1;
    while (more || !in_flight.empty()) {
        while (more && in_flight.size() < depth) {
            IoOp op;
            more = next(op);
            if (!more) break;
            if (op.length > buffer.size() || op.length > max_io()) return fail(EINVAL);
            auto tag = kind == IoKind::kRead
                           ? client_->send(p9proto::Tread{
                                 .fid = file, .offset = op.offset, .count = op.length})
                           : client_->send(p9proto::Twrite{
                                 .fid = file,
                                 .offset = op.offset,
                                 .data = {std::span<const std::byte>(buffer.first(op.length))}});
            if (!tag) return std::unexpected(tag.error());
            in_flight.push_back({*tag, op.length});
        }
        if (in_flight.empty()) break;
        auto oldest = in_flight.front();
        in_flight.pop_front();
        auto reply = client_->await(oldest.tag);
        if (!reply) return std::unexpected(reply.error());
        std::size_t count = 0;
        if (kind == IoKind::kRead) {
            auto rread = client::expect<p9proto::Rread>(*reply);
            if (!rread) return std::unexpected(rread.error());
            count = (*rread)->data.bytes.size();
        } else {
            auto rwrite = client::expect<p9proto::Rwrite>(*reply);
            if (!rwrite) return std::unexpected(rwrite.error());
            count = (*rwrite)->count;
        }
        if (count != oldest.length) return fail(EIO);
        moved += count;
    }
    return moved;
}

}  // namespace xen9p::bench
