#include "client/operations.hpp"

#include <algorithm>

#include "p9proto/dirent.hpp"

namespace xen9p::client {

namespace {

// Calls and unwraps the expected reply type, copying the body out of the reply.
template <class R>
Result<R> call_for(Client& client, const p9proto::RequestBody& body) {
    auto reply = client.call(body);
    if (!reply) return std::unexpected(reply.error());
    auto typed = expect<R>(*reply);
    if (!typed) return std::unexpected(typed.error());
    return **typed;
}

}  // namespace

Result<p9proto::Qid> attach(Client& client, std::uint32_t fid, std::string_view uname,
                            std::string_view aname, std::uint32_t n_uname) {
    auto reply = call_for<p9proto::Rattach>(client, p9proto::Tattach{.fid = fid,
                                                                     .afid = p9proto::kNoFid,
                                                                     .uname = p9proto::Text{uname},
                                                                     .aname = p9proto::Text{aname},
                                                                     .n_uname = n_uname});
    if (!reply) return std::unexpected(reply.error());
    return reply->qid;
}

Result<std::vector<p9proto::Qid>> walk(Client& client, std::uint32_t fid, std::uint32_t newfid,
                                       std::span<const std::string_view> names) {
    if (names.size() > p9proto::kMaxWalkElems) return fail(EINVAL);
    p9proto::Twalk request{.fid = fid, .newfid = newfid, .names = {}};
    for (std::string_view name : names) {
        request.names.names[request.names.count++] = p9proto::WalkName{name};
    }
    auto reply = call_for<p9proto::Rwalk>(client, request);
    if (!reply) return std::unexpected(reply.error());
    if (reply->qids.count != names.size()) return fail(ENOENT);
    const auto qids = reply->qids.view();
    return std::vector<p9proto::Qid>(qids.begin(), qids.end());
}

Result<OpenResult> lopen(Client& client, std::uint32_t fid, std::uint32_t flags) {
    auto reply = call_for<p9proto::Rlopen>(client, p9proto::Tlopen{.fid = fid, .flags = flags});
    if (!reply) return std::unexpected(reply.error());
    return OpenResult{.qid = reply->qid, .iounit = reply->iounit};
}

Status clunk(Client& client, std::uint32_t fid) {
    auto reply = call_for<p9proto::Rclunk>(client, p9proto::Tclunk{.fid = fid});
    if (!reply) return std::unexpected(reply.error());
    return {};
}

std::uint32_t io_chunk(const Client& client, std::uint32_t iounit) {
    const std::uint32_t max = client.msize() - static_cast<std::uint32_t>(p9proto::kIoHeaderSize);
    return iounit != 0 && iounit <= max ? iounit : max;
}

Result<std::vector<std::byte>> read_all(Client& client, std::uint32_t fid, std::uint64_t offset,
                                        std::uint32_t iounit) {
    std::vector<std::byte> out;
    const std::uint32_t chunk = io_chunk(client, iounit);
    for (;;) {
        auto reply = client.call(p9proto::Tread{.fid = fid, .offset = offset, .count = chunk});
        if (!reply) return std::unexpected(reply.error());
        auto rread = expect<p9proto::Rread>(*reply);
        if (!rread) return std::unexpected(rread.error());
        const auto data = (*rread)->data.bytes;
        if (data.empty()) return out;
        out.insert(out.end(), data.begin(), data.end());
        offset += data.size();
    }
}

Status write_all(Client& client, std::uint32_t fid, std::uint64_t offset,
                 std::span<const std::byte> data, std::uint32_t iounit) {
    const std::uint32_t chunk = io_chunk(client, iounit);
    while (!data.empty()) {
        const auto piece = data.first(std::min<std::size_t>(chunk, data.size()));
        auto reply = call_for<p9proto::Rwrite>(
            client, p9proto::Twrite{.fid = fid, .offset = offset, .data = p9proto::Data{piece}});
        if (!reply) return std::unexpected(reply.error());
        if (reply->count > piece.size()) return fail(EPROTO);
        if (reply->count == 0) return fail(EIO);
        data = data.subspan(reply->count);
        offset += reply->count;
    }
    return {};
}

Result<std::uint64_t> readdir_each(Client& client, std::uint32_t fid,
                                   const std::function<void(const p9proto::Dirent&)>& visit,
                                   std::uint32_t count) {
    if (count == 0) {
        count = client.msize() - static_cast<std::uint32_t>(p9proto::kReaddirHeaderSize);
    }
    std::uint64_t seen = 0;
    std::uint64_t offset = 0;
    for (;;) {
        auto reply = client.call(p9proto::Treaddir{.fid = fid, .offset = offset, .count = count});
        if (!reply) return std::unexpected(reply.error());
        auto rreaddir = expect<p9proto::Rreaddir>(*reply);
        if (!rreaddir) return std::unexpected(rreaddir.error());
        if ((*rreaddir)->data.bytes.empty()) return seen;
        p9proto::DirentReader reader((*rreaddir)->data.bytes);
        while (auto entry = reader.next()) {
            visit(*entry);
            offset = entry->offset;
            ++seen;
        }
        if (reader.failed()) return fail(EPROTO);
    }
}

Result<std::vector<DirEntry>> readdir_all(Client& client, std::uint32_t fid, std::uint32_t count) {
    std::vector<DirEntry> entries;
    auto seen = readdir_each(
        client, fid,
        [&](const p9proto::Dirent& entry) {
            entries.push_back(DirEntry{.qid = entry.qid,
                                       .offset = entry.offset,
                                       .type = entry.type,
                                       .name = std::string(entry.name)});
        },
        count);
    if (!seen) return std::unexpected(seen.error());
    return entries;
}

}  // namespace xen9p::client
