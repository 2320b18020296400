#include "backend/server/session.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "backend/fs/entries.hpp"
#include "backend/log/log.hpp"
#include "backend/server/kill_point.hpp"
#include "p9proto/msg_type_name.hpp"
#include "p9proto/version.hpp"
#include "p9proto/wire_errno.hpp"

namespace xen9p::server {

namespace {

// The largest error reply: Rlerror is header and ecode[4], a 9P2000.u Rerror
// header, ename[s] (at most P9_ERRMAX) and errno[4].
std::size_t error_capacity(p9proto::Dialect dialect) {
    return dialect == p9proto::Dialect::k9P2000u ? p9proto::kHeaderSize + p9proto::kErrMax + 4
                                                 : p9proto::kHeaderSize + 4;
}

// A version string a peer offered, fit for a log line: printable ASCII only,
// at most 32 characters.
std::string printable_version(std::string_view offered) {
    constexpr std::size_t kShown = 32;
    std::string out;
    for (char c : offered.substr(0, kShown)) {
        out += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    if (offered.size() > kShown) out += "...";
    return out;
}

// A request and its reply of this size fit in the buffer budget together
// (whole pages, as buffers are allocated).
std::uint32_t msize_within(std::size_t buffer_budget, std::uint32_t transport_max) {
    const std::size_t half = buffer_budget / 2 / 4096 * 4096;
    return static_cast<std::uint32_t>(std::min<std::size_t>(transport_max, half));
}

}  // namespace

Session::Session(io::EventLoop& loop, fs::Export& ex, std::unique_ptr<Transport> transport,
                 SessionConfig config, stats::OpStats& ops, SessionStore* store)
    : loop_(loop),
      ex_(ex),
      transport_(std::move(transport)),
      config_(std::move(config)),
      buffer_budget_(config_.max_memory / 2),
      value_budget_(config_.max_memory - config_.max_memory / 2),
      fids_(config_.max_fids),
      max_msize_(msize_within(buffer_budget_.limit(), transport_->max_msize())),
      ops_(ops),
      store_(store) {
    if (!config_.log_limiter) config_.log_limiter = std::make_shared<log::RateLimiter>();
    if (store_ != nullptr && !transport_->log_to(*store_)) store_ = nullptr;
    if (store_ != nullptr)
        fids_.track_changes([this](Fid&& fid) { retired_.push_back(std::move(fid)); });
}

Session::~Session() = default;

void Session::start() {
    // Larger frames can never be paid for: the transport refuses them.
    transport_->set_msize(msize_ != 0 ? msize_ : max_msize_);
    transport_->start(*this);
}

bool Session::finished() const {
    return closed_ && io_pending_ == 0 && transport_->finished();
}

Session::Slot* Session::take_slot() {
    if (free_.empty()) {
        if (slots_.size() >= config_.max_in_flight) return nullptr;
        auto slot = std::make_unique<Slot>();
        slot->session = this;
        slot->index = slots_.size();
        free_.push_back(slot.get());
        slots_.push_back(std::move(slot));
    }
    Slot* slot = free_.back();
    free_.pop_back();
    ++in_use_;
    stats_.max_in_flight = std::max(stats_.max_in_flight, in_use_);
    slot->generation = generation_;
    slot->replayed = false;
    slot->intent = kNoIntent;
    slot->request_size = 0;
    slot->elsewhere = {};
    slot->in_place = false;
    slot->reply_size = 0;
    return slot;
}

bool Session::reserve(ChargedBuffer& buffer, std::size_t size) {
    if (buffer.reserve(buffer_budget_, size)) return true;
    // Idle slots keep their buffers so that steady traffic allocates nothing;
    // when the budget runs short they give them back.
    for (Slot* idle : free_) {
        idle->request.release();
        idle->reply.release();
    }
    return buffer.reserve(buffer_budget_, size);
}

void Session::release(Slot& slot) {
    slot.state = State::kFree;
    slot.file.reset();
    slot.flushed = false;
    slot.flushers.clear();
    free_.push_back(&slot);
    --in_use_;
    retry_waiting();
}

void Session::retry_waiting() {
    if (closed_) return;
    if (memory_wait_ != nullptr) {
        Slot* waiting = std::exchange(memory_wait_, nullptr);
        if (!process(*waiting)) {
            memory_wait_ = waiting;
            return;
        }
    }
    if (input_blocked_ && memory_wait_ == nullptr) {
        input_blocked_ = false;
        transport_->resume_input();
    }
}

std::span<std::byte> Session::request_buffer(std::size_t size) {
    if (closed_) return {};
    if (size > max_msize_) {
        // The transport checks msize first; this is a broken one.
        protocol_violation("message above msize");
        return {};
    }
    if (memory_wait_ == nullptr) {
        if (reserved_ == nullptr) reserved_ = take_slot();
        if (reserved_ != nullptr && reserve(reserved_->request, size))
            return reserved_->request.span();
    }
    input_blocked_ = true;
    return {};
}

bool Session::on_message(const Origin& origin, std::span<const std::byte> message,
                         SplitBytes elsewhere) {
    if (closed_) return true;
    Slot* slot = nullptr;
    if (reserved_ != nullptr && message.data() == reserved_->request.data()) {
        // The transport copied the request into the slot already.
        slot = std::exchange(reserved_, nullptr);
        slot->generation = generation_;
    } else {
        if (memory_wait_ == nullptr) slot = take_slot();
        if (slot != nullptr && !reserve(slot->request, message.size())) {
            release(*slot);
            slot = nullptr;
        }
        if (slot == nullptr) {
            input_blocked_ = true;
            return false;
        }
        std::memcpy(slot->request.data(), message.data(), message.size());
    }
    ++stats_.requests;
    slot->received = std::chrono::steady_clock::now();
    slot->origin = origin;
    slot->request_size = message.size();
    slot->elsewhere = elsewhere;
    if (!origin.retaken && (!committed_.empty() || !intents_.empty())) end_retaking(origin.route);
    reached(KillPoint::kTaken);
    if (!process(*slot)) {
        // Taken all the same (a ring's request is out of the ring already);
        // nothing more comes in until it has run.
        slot->state = State::kMemoryWait;
        memory_wait_ = slot;
        input_blocked_ = true;
    }
    return true;
}

bool Session::process(Slot& slot) {
    std::uint32_t limit = msize_ != 0 ? msize_ : max_msize_;
    auto request = p9proto::decode_request(slot.request.span().first(slot.request_size), limit,
                                           dialect_, slot.elsewhere.size());
    if (!request && !request.error().tag) {
        release(slot);
        protocol_violation(p9proto::to_string(request.error().failure));
        return true;
    }
    const std::size_t capacity = request ? p9proto::reply_capacity(request->body, limit, dialect_)
                                         : std::min<std::size_t>(error_capacity(dialect_), limit);
    if (!reserve(slot.reply, capacity)) return false;
    slot.state = State::kFree;
    slot.capacity = capacity;
    if (!request) {
        slot.tag = *request.error().tag;
        slot.type = p9proto::MsgType::Tlerror;
        if (tags_.contains(slot.tag)) {
            release(slot);
            protocol_violation("tag already in use");
            return true;
        }
        error(slot, static_cast<int>(p9proto::errno_for(request.error().failure)));
        finish(slot);
        return true;
    }
    slot.tag = request->tag;
    slot.type = p9proto::type_of(request->body);
    if (slot.type != p9proto::MsgType::Tversion) {
        if (tags_.contains(slot.tag)) {
            release(slot);
            protocol_violation("tag already in use");
            return true;
        }
        tags_[slot.tag] = &slot;
    }
    // A request the dead server took: its committed answer, or what its
    // intent says, or (neither) it had done nothing yet.
    const std::pair key{slot.origin.route, slot.origin.position};
    std::optional<Outcome> outcome = slot.origin.retaken ? replay(slot, *request) : std::nullopt;
    if (!outcome) {
        auto intent = slot.origin.retaken ? intents_.extract(key) : decltype(intents_)::node_type{};
        outcome = intent ? redo(slot, *request, intent.mapped()) : dispatch(slot, *request);
    }
    if (outcome == Outcome::kLost) {
        tags_.erase(slot.tag);
        release(slot);
        transport_->close();
    } else if (outcome == Outcome::kReply) {
        finish(slot);
    }
    return true;
}

void Session::on_sent(std::uint64_t cookie) {
    if (cookie < slots_.size() && slots_[cookie]->state == State::kSending) {
        release_and_answer_flushers(*slots_[cookie]);
    }
}

void Session::on_closed() {
    if (closed_) return;
    closed_ = true;
    if (reserved_ != nullptr) release(*std::exchange(reserved_, nullptr));
    if (memory_wait_ != nullptr) release(*std::exchange(memory_wait_, nullptr));
    for (auto& slot : slots_) {
        if (slot->state == State::kIo) loop_.cancel(slot.get());
        // The transport dropped what it had queued.
        if (slot->state == State::kSending) release_and_answer_flushers(*slot);
    }
    clunk_all();
}

void Session::clunk_all() {
    fids_.for_each([&](Fid& fid) {
        if (!fid.remove_on_clunk) return;
        fid.file.reset();
        // Nobody is left to tell of a failure.
        (void)fs::remove_node(ex_, fid.caller, fid.node);
    });
    fids_.clear();
}

void Session::protocol_violation(std::string_view why) {
    log::limited(*config_.log_limiter, log::Level::kWarning, "server", transport_->name(),
                 "protocol violation, closing", {{"reason", std::string(why)}});
    transport_->close();
}

Session::Outcome Session::reply(Slot& slot, const p9proto::ReplyBody& body) {
    auto size = p9proto::encode(p9proto::Reply{slot.tag, body}, slot.reply.span(), slot.capacity);
    if (!size) {
        // Only an over-long value (readlink target, xattr, stat) can get here.
        size = p9proto::encode(p9proto::Reply{slot.tag, error_body(Errno{ERANGE})},
                               slot.reply.span(), slot.capacity);
    }
    slot.reply_size = size.value_or(0);
    return Outcome::kReply;
}

p9proto::ReplyBody Session::error_body(Errno err) const {
    const std::uint32_t code = p9proto::wire_errno(err);
    if (dialect_ == p9proto::Dialect::k9P2000u) {
        return p9proto::Rerror{p9proto::Text{p9proto::error_text(code)}, code};
    }
    return p9proto::Rlerror{code};
}

Session::Outcome Session::error(Slot& slot, Errno err) {
    return reply(slot, error_body(err));
}

void Session::finish(Slot& slot, bool send_reply) {
    if (auto it = tags_.find(slot.tag); it != tags_.end() && it->second == &slot) tags_.erase(it);
    const bool failed =
        slot.reply_size >= p9proto::kHeaderSize &&
        (slot.reply.data()[4] == static_cast<std::byte>(p9proto::MsgType::Rlerror) ||
         slot.reply.data()[4] == static_cast<std::byte>(p9proto::MsgType::Rerror));
    ops_.record(slot.type, std::chrono::steady_clock::now() - slot.received, failed);
    bool current = slot.generation == generation_ && !closed_;
    const bool sending = send_reply && current && slot.reply_size != 0;
    reached(KillPoint::kApplied);
    if (store_ != nullptr && !closed_ && !slot.replayed) commit_answer(slot, !sending);
    reached(KillPoint::kRecorded);
    if (sending) {
        // Waiting Tflushes are answered from on_sent, once this reply has left
        // the transport: then no ring can deliver Rflush before it.
        slot.state = State::kSending;
        if (slot.in_place) {
            transport_->send_in_place(slot.origin,
                                      slot.reply.span().first<p9proto::kDataReplyHeaderSize>(),
                                      slot.reply_size - p9proto::kDataReplyHeaderSize, slot.index);
        } else {
            transport_->send(slot.origin, slot.reply.span().first(slot.reply_size), slot.index);
        }
    } else {
        if (!closed_) transport_->drop(slot.origin);
        release_and_answer_flushers(slot);
    }
}

void Session::release_and_answer_flushers(Slot& slot) {
    std::vector<Slot*> flushers;
    flushers.swap(slot.flushers);
    release(slot);
    for (Slot* flusher : flushers)
        finish(*flusher);
}

void Session::io_done(Slot& slot, int result) {
    --io_pending_;
    // Whatever became of it, the write's space is measured now.
    if (slot.type == p9proto::MsgType::Twrite && slot.file) fs::finish_write(ex_, *slot.file);
    if ((slot.flushed && result == -ECANCELED) || slot.generation != generation_ || closed_) {
        finish(slot, false);
        return;
    }
    if (slot.in_place && result < 0) {
        // Not from the page cache (or not at all): the room goes back, as
        // the replies behind it must not wait for a device, and the read is
        // done again into the slot, where it may wait (and fail for real).
        transport_->unreserve(slot.origin);
        slot.in_place = false;
        if (slot.flushed) {
            finish(slot, false);
            return;
        }
        ++io_pending_;
        loop_.read(slot.file->fd(),
                   slot.reply.span().subspan(p9proto::kDataReplyHeaderSize, slot.io_count),
                   slot.io_offset, &slot);
        return;
    }
    if (result < 0) {
        error(slot, -result);
    } else if (slot.type == p9proto::MsgType::Tread) {
        ops_.add_bytes_read(static_cast<std::uint64_t>(result));
        p9proto::encode_data_reply_header(p9proto::MsgType::Rread, slot.tag,
                                          static_cast<std::uint32_t>(result),
                                          slot.reply.span().first<p9proto::kDataReplyHeaderSize>());
        slot.reply_size = p9proto::kDataReplyHeaderSize + static_cast<std::size_t>(result);
    } else if (slot.type == p9proto::MsgType::Twrite) {
        ops_.add_bytes_written(static_cast<std::uint64_t>(result));
        reply(slot, p9proto::Rwrite{static_cast<std::uint32_t>(result)});
    } else if (slot.type == p9proto::MsgType::Twstat) {
        reply(slot, p9proto::Rwstat{});  // a blank Twstat: 9P2000.u's fsync
    } else {
        reply(slot, p9proto::Rfsync{});
    }
    finish(slot);
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Tversion& req) {
    // A new session: every fid goes, every request in flight is dropped.
    bool removes = false;
    fids_.for_each([&](const Fid& fid) { removes = removes || fid.remove_on_clunk; });
    // Nothing tells whether an ORCLOSE file's removal was done.
    if (removes) note_intent(slot, {.kind = StoredIntent::Kind::kOpaque});
    ++generation_;
    slot.generation = generation_;
    for (auto& other : slots_) {
        if (other->state != State::kIo) continue;
        loop_.cancel(other.get());
        // Answered now, by dropping: a replacement must not run them again
        // against the new session's fids.
        if (store_ != nullptr && !other->replayed) {
            other->origin.record =
                store_->begin_answer(other->origin.route, other->origin.position);
            store_->commit_answer(other->origin.record, {}, true);
            if (other->intent != kNoIntent)
                store_->clear_intent(std::exchange(other->intent, kNoIntent));
            other->replayed = true;
        }
    }
    tags_.clear();
    clunk_all();
    msize_ = 0;
    dialect_ = p9proto::Dialect::k9P2000L;
    auto outcome = p9proto::negotiate_version(req, max_msize_);
    if (!outcome.msize) {
        // A client that gets "unknown" (or an error) usually just fails to
        // mount: the admin needs to see what it asked for.
        log::limited(*config_.log_limiter, log::Level::kWarning, "server", transport_->name(),
                     "9P version refused",
                     {{"offered", printable_version(req.version.str)},
                      {"msize", std::to_string(req.msize)}});
        return reply(slot, outcome.reply);
    }
    msize_ = *outcome.msize;
    dialect_ = outcome.dialect;
    transport_->set_msize(msize_);
    return reply(slot, outcome.reply);
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Tflush& req) {
    Slot* old = nullptr;
    if (auto it = tags_.find(req.oldtag); it != tags_.end() && it->second != &slot) {
        old = it->second;
    } else {
        // Its reply may still sit in the transport (a full ring): Rflush waits
        // for it. Tflush is rare, so a scan of the pool is fine here.
        for (auto& other : slots_) {
            if (other->state == State::kSending && other->tag == req.oldtag) old = other.get();
        }
    }
    reply(slot, p9proto::Rflush{});
    if (old == nullptr) return Outcome::kReply;
    slot.state = State::kFlushWait;
    old->flushers.push_back(&slot);
    if (old->state == State::kIo && !old->flushed) {
        old->flushed = true;
        loop_.cancel(old);
    }
    return Outcome::kAsync;
}

Session::Outcome Session::dispatch(Slot& slot, const p9proto::Request& request) {
    if (msize_ == 0 && slot.type != p9proto::MsgType::Tversion) return error(slot, EPROTO);
    return std::visit([&](const auto& body) { return handle(slot, body); }, request.body);
}

}  // namespace xen9p::server
