#include "p9proto/codec.hpp"

#include <cerrno>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

namespace xen9p::p9proto {
namespace {

// ---- decoding ----

// Reads little-endian fields from one message body; the first failure sticks
// and every later read becomes a no-op.
class Reader {
  public:
    // `elsewhere`: the message goes on for that many bytes not given here,
    // which only a payload at the end of `in` may be (data()).
    explicit Reader(std::span<const std::byte> in, std::size_t elsewhere = 0)
        : in_(in), elsewhere_(elsewhere) {}

    bool ok() const { return !failure_; }
    DecodeFailure failure() const { return *failure_; }
    std::size_t remaining() const { return in_.size() - pos_; }
    bool all_read() const { return remaining() == 0 && elsewhere_ == 0; }
    void fail(DecodeFailure f) {
        if (!failure_) failure_ = f;
    }

    template <class T>
    T integer() {
        if (failure_) return 0;
        if (remaining() < sizeof(T)) {
            fail(DecodeFailure::kTruncated);
            return 0;
        }
        T value = 0;
        for (std::size_t i = 0; i < sizeof(T); ++i) {
            value |= static_cast<T>(static_cast<T>(in_[pos_ + i]) << (8 * i));
        }
        pos_ += sizeof(T);
        return value;
    }

    std::span<const std::byte> bytes(std::size_t n) {
        if (failure_) return {};
        if (remaining() < n) {
            fail(DecodeFailure::kTruncated);
            return {};
        }
        auto out = in_.subspan(pos_, n);
        pos_ += n;
        return out;
    }

    // A payload of `n` bytes: in `in`, or, when `in` ends where it begins,
    // exactly the bytes elsewhere (returned empty: the caller has them).
    std::span<const std::byte> data(std::size_t n) {
        if (failure_ || elsewhere_ == 0 || remaining() != 0) return bytes(n);
        if (n != elsewhere_) {
            fail(n > elsewhere_ ? DecodeFailure::kTruncated : DecodeFailure::kTrailingBytes);
            return {};
        }
        elsewhere_ = 0;
        return {};
    }

    // s[2]: the length prefix is checked against what is left of the message.
    std::string_view string() {
        auto len = integer<std::uint16_t>();
        auto raw = bytes(len);
        if (!ok()) return {};
        return {reinterpret_cast<const char*>(raw.data()), raw.size()};
    }

  private:
    std::span<const std::byte> in_;
    std::size_t elsewhere_;
    std::size_t pos_ = 0;
    std::optional<DecodeFailure> failure_;
};

bool has_nul(std::string_view s) {
    return s.find('\0') != std::string_view::npos;
}

// An entry name: the checks shared by Name and WalkName.
void check_entry_name(Reader& r, std::string_view s, bool dots_allowed) {
    if (!r.ok()) return;
    if (s.size() > kMaxNameLength) return r.fail(DecodeFailure::kNameTooLong);
    if (has_nul(s)) return r.fail(DecodeFailure::kBadString);
    if (s.empty() || s.find('/') != std::string_view::npos) {
        return r.fail(DecodeFailure::kBadName);
    }
    if (!dots_allowed && (s == "." || s == "..")) return r.fail(DecodeFailure::kBadName);
}

template <class T>
requires std::is_unsigned_v<T>
void get(Reader& r, T& v) {
    v = r.integer<T>();
}
void get(Reader& r, Qid& q) {
    get(r, q.type);
    get(r, q.version);
    get(r, q.path);
}
void get(Reader& r, Name& n) {
    n.str = r.string();
    check_entry_name(r, n.str, false);
}
void get(Reader& r, WalkName& n) {
    n.str = r.string();
    check_entry_name(r, n.str, true);
}
void get(Reader& r, Target& t) {
    t.str = r.string();
    if (!r.ok()) return;
    if (t.str.size() > kMaxPathLength) return r.fail(DecodeFailure::kNameTooLong);
    if (has_nul(t.str)) return r.fail(DecodeFailure::kBadString);
    if (t.str.empty()) return r.fail(DecodeFailure::kBadName);
}
void get(Reader& r, XattrName& n) {
    n.str = r.string();
    if (!r.ok()) return;
    if (n.str.size() > kMaxNameLength) return r.fail(DecodeFailure::kNameTooLong);
    if (has_nul(n.str)) return r.fail(DecodeFailure::kBadString);
}
void get(Reader& r, Text& t) {
    t.str = r.string();
    if (r.ok() && has_nul(t.str)) r.fail(DecodeFailure::kBadString);
}
void get(Reader& r, Data& d) {
    auto count = r.integer<std::uint32_t>();
    d.bytes = r.data(count);
}
void get(Reader& r, WalkNames& w) {
    auto count = r.integer<std::uint16_t>();
    if (!r.ok()) return;
    if (count > kMaxWalkElems) return r.fail(DecodeFailure::kTooManyWalkElems);
    w.count = count;
    for (std::size_t i = 0; i < count && r.ok(); ++i)
        get(r, w.names[i]);
}
void get(Reader& r, WalkQids& w) {
    auto count = r.integer<std::uint16_t>();
    if (!r.ok()) return;
    if (count > kMaxWalkElems) return r.fail(DecodeFailure::kTooManyWalkElems);
    w.count = count;
    for (std::size_t i = 0; i < count && r.ok(); ++i)
        get(r, w.qids[i]);
}

template <class Msg>
void get_fields(Reader& r, Msg& msg);

// One stat record: its size[2] must cover exactly its fields.
void get(Reader& r, UStat& st) {
    auto size = r.integer<std::uint16_t>();
    auto body = r.bytes(size);
    if (!r.ok()) return;
    Reader inner(body);
    get_fields(inner, st);
    if (!inner.ok()) return r.fail(inner.failure());
    if (inner.remaining() != 0) return r.fail(DecodeFailure::kTrailingBytes);
}
void get(Reader& r, WrappedStat& w) {
    auto size = r.integer<std::uint16_t>();
    auto body = r.bytes(size);
    if (!r.ok()) return;
    Reader inner(body);
    get(inner, w.stat);
    if (!inner.ok()) return r.fail(inner.failure());
    if (inner.remaining() != 0) return r.fail(DecodeFailure::kTrailingBytes);
}

template <class Msg>
void get_fields(Reader& r, Msg& msg) {
    std::apply([&](auto&... field) { (get(r, field), ...); }, msg.tie());
}

std::uint32_t load_u32(std::span<const std::byte> b) {
    return static_cast<std::uint32_t>(b[0]) | (static_cast<std::uint32_t>(b[1]) << 8) |
           (static_cast<std::uint32_t>(b[2]) << 16) | (static_cast<std::uint32_t>(b[3]) << 24);
}

// Decodes the body of the variant alternative whose kType is `type`.
template <class Variant, std::size_t... I>
std::optional<DecodeFailure> decode_body(Reader& r, std::uint8_t type, Dialect dialect,
                                         Variant& out, std::index_sequence<I...>) {
    bool found = false;
    auto try_one = [&]<std::size_t K>() {
        using Alt = std::variant_alternative_t<K, Variant>;
        if (found || static_cast<std::uint8_t>(Alt::kType) != type) return;
        if (!belongs_to(Alt::kType, dialect)) return;
        found = true;
        // Decoded in place: no copy of the (up to 16-name) message.
        get_fields(r, out.template emplace<K>());
    };
    (try_one.template operator()<I>(), ...);
    if (!found) return DecodeFailure::kUnknownType;
    if (!r.ok()) return r.failure();
    if (!r.all_read()) return DecodeFailure::kTrailingBytes;
    return std::nullopt;
}

template <class Message, class Variant>
std::expected<Message, DecodeError> decode_message(std::span<const std::byte> bytes,
                                                   std::uint32_t msize, Dialect dialect,
                                                   std::size_t elsewhere = 0) {
    auto header = peek_header(bytes);
    // Framing failures carry no tag: the stream itself cannot be trusted.
    if (!header || header->size < kHeaderSize) {
        return std::unexpected(DecodeError{DecodeFailure::kTooShort, std::nullopt});
    }
    if (header->size != bytes.size() + elsewhere) {
        return std::unexpected(DecodeError{DecodeFailure::kSizeMismatch, std::nullopt});
    }
    if (header->size > msize) {
        return std::unexpected(DecodeError{DecodeFailure::kAboveMsize, header->tag});
    }
    Reader r(bytes.subspan(kHeaderSize), elsewhere);
    Variant body;
    auto failure = decode_body(r, header->type, dialect, body,
                               std::make_index_sequence<std::variant_size_v<Variant>>());
    if (failure) return std::unexpected(DecodeError{*failure, header->tag});
    return Message{header->tag, std::move(body)};
}

// ---- encoding ----

// Counts the encoded size and notes fields that cannot be represented.
struct SizeSink {
    std::size_t size = 0;
    bool too_large = false;

    void integer(std::size_t width, std::uint64_t) { size += width; }
    void raw(std::span<const std::byte> b) { size += b.size(); }
};

// Writes fields; the caller has checked that everything fits.
struct ByteSink {
    std::span<std::byte> out;
    std::size_t pos = 0;
    bool too_large = false;

    void integer(std::size_t width, std::uint64_t v) {
        for (std::size_t i = 0; i < width; ++i) {
            out[pos + i] = static_cast<std::byte>((v >> (8 * i)) & 0xff);
        }
        pos += width;
    }
    void raw(std::span<const std::byte> b) {
        if (!b.empty()) std::memcpy(out.data() + pos, b.data(), b.size());
        pos += b.size();
    }
};

template <class Sink, class T>
requires std::is_unsigned_v<T>
void put(Sink& s, T v) {
    s.integer(sizeof(T), v);
}
template <class Sink>
void put(Sink& s, const Qid& q) {
    put(s, q.type);
    put(s, q.version);
    put(s, q.path);
}
template <class Sink>
void put_string(Sink& s, std::string_view str) {
    if (str.size() > std::numeric_limits<std::uint16_t>::max()) {
        s.too_large = true;
        return;
    }
    put(s, static_cast<std::uint16_t>(str.size()));
    s.raw(std::as_bytes(std::span(str.data(), str.size())));
}
template <class Sink>
void put(Sink& s, const Name& n) {
    put_string(s, n.str);
}
template <class Sink>
void put(Sink& s, const WalkName& n) {
    put_string(s, n.str);
}
template <class Sink>
void put(Sink& s, const Target& t) {
    put_string(s, t.str);
}
template <class Sink>
void put(Sink& s, const XattrName& n) {
    put_string(s, n.str);
}
template <class Sink>
void put(Sink& s, const Text& t) {
    put_string(s, t.str);
}
template <class Sink>
void put(Sink& s, const Data& d) {
    if (d.bytes.size() > std::numeric_limits<std::uint32_t>::max()) {
        s.too_large = true;
        return;
    }
    put(s, static_cast<std::uint32_t>(d.bytes.size()));
    s.raw(d.bytes);
}
template <class Sink>
void put(Sink& s, const WalkNames& w) {
    if (w.count > kMaxWalkElems) {
        s.too_large = true;
        return;
    }
    put(s, w.count);
    for (const auto& name : w.view())
        put(s, name);
}
template <class Sink>
void put(Sink& s, const WalkQids& w) {
    if (w.count > kMaxWalkElems) {
        s.too_large = true;
        return;
    }
    put(s, w.count);
    for (const auto& qid : w.view())
        put(s, qid);
}

template <class Sink>
void put(Sink& s, const UStat& st);

// The bytes of a stat record's fields, its size[2] not included.
std::size_t stat_fields_size(const UStat& st, bool& too_large) {
    SizeSink sink;
    std::apply([&](const auto&... field) { (put(sink, field), ...); }, st.tie());
    too_large =
        too_large || sink.too_large || sink.size > std::numeric_limits<std::uint16_t>::max() - 2u;
    return sink.size;
}

template <class Sink>
void put(Sink& s, const UStat& st) {
    const std::size_t size = stat_fields_size(st, s.too_large);
    if (s.too_large) return;
    put(s, static_cast<std::uint16_t>(size));
    std::apply([&](const auto&... field) { (put(s, field), ...); }, st.tie());
}
template <class Sink>
void put(Sink& s, const WrappedStat& w) {
    const std::size_t size = stat_fields_size(w.stat, s.too_large);
    if (s.too_large) return;
    put(s, static_cast<std::uint16_t>(size + 2));
    put(s, w.stat);
}

template <class Sink, class Variant>
void put_message(Sink& s, std::uint16_t tag, const Variant& body, std::size_t size) {
    std::visit(
        [&](const auto& msg) {
            put(s, static_cast<std::uint32_t>(size));
            put(s, static_cast<std::uint8_t>(msg.kType));
            put(s, tag);
            std::apply([&](const auto&... field) { (put(s, field), ...); }, msg.tie());
        },
        body);
}

template <class Variant>
SizeSink measure(const Variant& body) {
    SizeSink sink;
    put_message(sink, 0, body, 0);
    return sink;
}

template <class Variant>
std::expected<std::size_t, EncodeFailure> encode_message(std::uint16_t tag, const Variant& body,
                                                         std::span<std::byte> out,
                                                         std::size_t capacity) {
    auto measured = measure(body);
    if (measured.too_large || measured.size > std::numeric_limits<std::uint32_t>::max()) {
        return std::unexpected(EncodeFailure::kFieldTooLarge);
    }
    if (measured.size > capacity) return std::unexpected(EncodeFailure::kAboveCapacity);
    if (measured.size > out.size()) return std::unexpected(EncodeFailure::kNoSpace);
    ByteSink sink{out.first(measured.size)};
    put_message(sink, tag, body, measured.size);
    return measured.size;
}

// Per-type reply buffers of the Linux client (net/9p/client.c p9_msg_buf_size).
constexpr std::size_t kRlerrorSize = kHeaderSize + 4;
constexpr std::size_t kRerrorSize = kHeaderSize + kErrMax + 4;
constexpr std::size_t kSmallReplyBuffer = 4096;
constexpr std::size_t kLargeReplyBuffer = 8192;

}  // namespace

std::string_view to_string(DecodeFailure failure) {
    switch (failure) {
        case DecodeFailure::kTooShort:
            return "too short";
        case DecodeFailure::kSizeMismatch:
            return "size mismatch";
        case DecodeFailure::kAboveMsize:
            return "above msize";
        case DecodeFailure::kUnknownType:
            return "unknown type";
        case DecodeFailure::kTruncated:
            return "truncated";
        case DecodeFailure::kTrailingBytes:
            return "trailing bytes";
        case DecodeFailure::kBadString:
            return "NUL in string";
        case DecodeFailure::kBadName:
            return "bad name";
        case DecodeFailure::kNameTooLong:
            return "name too long";
        case DecodeFailure::kTooManyWalkElems:
            return "too many walk elements";
    }
    return "invalid decode failure";
}

// Framing and layout errors are protocol errors (EPROTO); a message type we do
// not implement is EOPNOTSUPP; over-long names are ENAMETOOLONG; a well-framed
// message with an unacceptable string or walk length is EINVAL.
std::uint32_t errno_for(DecodeFailure failure) {
    switch (failure) {
        case DecodeFailure::kTooShort:
        case DecodeFailure::kSizeMismatch:
        case DecodeFailure::kAboveMsize:
        case DecodeFailure::kTruncated:
        case DecodeFailure::kTrailingBytes:
            return EPROTO;
        case DecodeFailure::kUnknownType:
            return EOPNOTSUPP;
        case DecodeFailure::kNameTooLong:
            return ENAMETOOLONG;
        case DecodeFailure::kBadString:
        case DecodeFailure::kBadName:
        case DecodeFailure::kTooManyWalkElems:
            return EINVAL;
    }
    return EPROTO;
}

std::string_view to_string(EncodeFailure failure) {
    switch (failure) {
        case EncodeFailure::kNoSpace:
            return "no space";
        case EncodeFailure::kAboveCapacity:
            return "above receiver capacity";
        case EncodeFailure::kFieldTooLarge:
            return "field too large";
    }
    return "invalid encode failure";
}

MsgType type_of(const RequestBody& body) {
    return std::visit([](const auto& msg) { return msg.kType; }, body);
}

MsgType type_of(const ReplyBody& body) {
    return std::visit([](const auto& msg) { return msg.kType; }, body);
}

std::optional<Header> peek_header(std::span<const std::byte> bytes) {
    if (bytes.size() < kHeaderSize) return std::nullopt;
    return Header{load_u32(bytes), static_cast<std::uint8_t>(bytes[4]),
                  static_cast<std::uint16_t>(static_cast<std::uint16_t>(bytes[5]) |
                                             (static_cast<std::uint16_t>(bytes[6]) << 8))};
}

std::expected<Request, DecodeError> decode_request(std::span<const std::byte> bytes,
                                                   std::uint32_t msize, Dialect dialect,
                                                   std::size_t elsewhere) {
    return decode_message<Request, RequestBody>(bytes, msize, dialect, elsewhere);
}

std::expected<Reply, DecodeError> decode_reply(std::span<const std::byte> bytes,
                                               std::uint32_t msize, Dialect dialect) {
    return decode_message<Reply, ReplyBody>(bytes, msize, dialect);
}

std::size_t stat_record_size(const UStat& stat) {
    bool too_large = false;
    const std::size_t size = stat_fields_size(stat, too_large) + 2;
    return too_large ? 0 : size;
}

std::expected<std::size_t, EncodeFailure> encode_stat_record(const UStat& stat,
                                                             std::span<std::byte> out) {
    const std::size_t size = stat_record_size(stat);
    if (size == 0) return std::unexpected(EncodeFailure::kFieldTooLarge);
    if (size > out.size()) return std::unexpected(EncodeFailure::kNoSpace);
    ByteSink sink{out.first(size)};
    put(sink, stat);
    return size;
}

std::expected<StatRecord, DecodeFailure> decode_stat_record(std::span<const std::byte> bytes) {
    Reader r(bytes);
    StatRecord record;
    get(r, record.stat);
    if (!r.ok()) return std::unexpected(r.failure());
    record.size = bytes.size() - r.remaining();
    return record;
}

std::expected<std::size_t, EncodeFailure> encode(const Request& request, std::span<std::byte> out) {
    return encode_message(request.tag, request.body, out, std::numeric_limits<std::size_t>::max());
}

std::expected<std::size_t, EncodeFailure> encode(const Reply& reply, std::span<std::byte> out,
                                                 std::size_t capacity) {
    return encode_message(reply.tag, reply.body, out, capacity);
}

std::size_t encoded_size(const Request& request) {
    return measure(request.body).size;
}

std::size_t encoded_size(const Reply& reply) {
    return measure(reply.body).size;
}

std::size_t reply_capacity(const RequestBody& request, std::uint32_t msize, Dialect dialect) {
    std::size_t capacity = kSmallReplyBuffer;
    switch (type_of(request)) {
        case MsgType::Twalk:
            capacity = kHeaderSize + 2 + kQidSize * std::get<Twalk>(request).names.count;
            break;
        case MsgType::Tread:
            capacity = kDataReplyHeaderSize + std::get<Tread>(request).count;
            break;
        case MsgType::Treaddir:
            capacity = kDataReplyHeaderSize + std::get<Treaddir>(request).count;
            break;
        case MsgType::Treadlink:
        case MsgType::Txattrwalk:
        case MsgType::Txattrcreate:
        case MsgType::Tlink:
        case MsgType::Tmkdir:
        case MsgType::Tmknod:
        case MsgType::Trename:
        case MsgType::Tunlinkat:
        case MsgType::Tlock:
        case MsgType::Tstat:  // Rstat's strings: name, symlink target
            capacity = kLargeReplyBuffer;
            break;
        default:
            break;
    }
    // Every request can be answered with the dialect's error.
    capacity = std::max(capacity, dialect == Dialect::k9P2000u ? kRerrorSize : kRlerrorSize);
    return std::min<std::size_t>(capacity, msize);
}

void encode_data_reply_header(MsgType type, std::uint16_t tag, std::uint32_t count,
                              std::span<std::byte, kDataReplyHeaderSize> out) {
    ByteSink sink{out};
    put(sink, static_cast<std::uint32_t>(kDataReplyHeaderSize + count));
    put(sink, static_cast<std::uint8_t>(type));
    put(sink, tag);
    put(sink, count);
}

}  // namespace xen9p::p9proto
