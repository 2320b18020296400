// Bounds-checked decoding and encoding of whole 9P2000.L and 9P2000.u messages
// (and of the 9P2000.u stat records a directory read returns).
// Decoding works on a private copy of one message; encoding writes into a
// caller-provided span (which may be ring memory) and never past its end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string_view>

#include "p9proto/messages.hpp"

namespace xen9p::p9proto {

// Why a message could not be decoded.
enum class DecodeFailure : std::uint8_t {
    kTooShort,          // fewer than 7 bytes, or size[4] below 7: no usable header
    kSizeMismatch,      // size[4] differs from the buffer length
    kAboveMsize,        // size[4] exceeds the negotiated msize
    kUnknownType,       // type[1] is not a message of the dialect in this direction
    kTruncated,         // a field runs past the end of the message
    kTrailingBytes,     // bytes left over after the last field
    kBadString,         // a string holds a NUL byte
    kBadName,           // empty, '/', "." or ".." where an entry name is required; empty target
    kNameTooLong,       // a name or xattr name above 255 bytes, a target above 4095 bytes
    kTooManyWalkElems,  // nwname or nwqid above 16
};

std::string_view to_string(DecodeFailure failure);

struct DecodeError {
    DecodeFailure failure;
    // The tag, when the frame itself was sound (every failure except kTooShort
    // and kSizeMismatch): the message can then be answered with
    // Rlerror(errno_for(failure)). Without it the stream is unusable.
    std::optional<std::uint16_t> tag;

    friend bool operator==(const DecodeError&, const DecodeError&) = default;
};

// The Linux errno a server answers for a message that failed to decode:
// EPROTO for framing and layout (kTooShort, kSizeMismatch, kAboveMsize,
// kTruncated, kTrailingBytes), EOPNOTSUPP for kUnknownType, ENAMETOOLONG for
// kNameTooLong, EINVAL for kBadString, kBadName and kTooManyWalkElems.
std::uint32_t errno_for(DecodeFailure failure);

// The fixed header of every message.
struct Header {
    std::uint32_t size = 0;
    std::uint8_t type = 0;
    std::uint16_t tag = 0;
};

// Reads the 7-byte header; nullopt if fewer than 7 bytes are given.
std::optional<Header> peek_header(std::span<const std::byte> bytes);

// Decodes one complete T-message. `bytes` must be exactly the message
// (size[4] == bytes.size()) and no larger than msize. Strings and payloads of
// the result are views into `bytes`: keep the buffer alive while using them.
// A message of the other dialect is kUnknownType.
// With `elsewhere`, the message's last `elsewhere` bytes are not in `bytes`
// (size[4] == bytes.size() + elsewhere): they must be exactly a Twrite's
// data, which then decodes empty (the caller holds it); anything else is the
// failure the whole message would give.
std::expected<Request, DecodeError> decode_request(std::span<const std::byte> bytes,
                                                   std::uint32_t msize,
                                                   Dialect dialect = Dialect::k9P2000L,
                                                   std::size_t elsewhere = 0);

// Decodes one complete R-message (the client side).
std::expected<Reply, DecodeError> decode_reply(std::span<const std::byte> bytes,
                                               std::uint32_t msize,
                                               Dialect dialect = Dialect::k9P2000L);

enum class EncodeFailure : std::uint8_t {
    kNoSpace,        // the output span is too small
    kAboveCapacity,  // larger than the receiver accepts (see reply_capacity)
    kFieldTooLarge,  // a string above 65535 bytes, a payload above 2^32-1, > 16 walk entries
};

std::string_view to_string(EncodeFailure failure);

// 9P2000.u directory reads return whole stat records back to back.
// The encoded size of one record (its size[2] included); 0 if a string is
// too long for it to be encoded.
std::size_t stat_record_size(const UStat& stat);
// Writes one record at the start of `out`; returns its size.
std::expected<std::size_t, EncodeFailure> encode_stat_record(const UStat& stat,
                                                             std::span<std::byte> out);
struct StatRecord {
    UStat stat;
    std::size_t size = 0;  // bytes it took, size[2] included
};
// Decodes the record at the start of `bytes` (more records may follow).
std::expected<StatRecord, DecodeFailure> decode_stat_record(std::span<const std::byte> bytes);

// Encodes a request into `out`; returns the number of bytes written.
std::expected<std::size_t, EncodeFailure> encode(const Request& request, std::span<std::byte> out);

// Encodes a reply into `out`. `capacity` is the most the receiver accepts for
// this reply (reply_capacity()); a larger reply is refused, never truncated.
std::expected<std::size_t, EncodeFailure> encode(const Reply& reply, std::span<std::byte> out,
                                                 std::size_t capacity);

// The exact encoded size of a message.
std::size_t encoded_size(const Request& request);
std::size_t encoded_size(const Reply& reply);

// The largest reply the Linux client accepts for this request at this msize
// (its per-type reply buffers, net/9p/protocol.c p9_msg_buf_size, capped by msize).
// Under 9P2000.u every reply has room for an Rerror with a P9_ERRMAX ename.
std::size_t reply_capacity(const RequestBody& request, std::uint32_t msize,
                           Dialect dialect = Dialect::k9P2000L);

// Bytes of an Rread or Rreaddir before its payload: size[4] type[1] tag[2] count[4].
inline constexpr std::size_t kDataReplyHeaderSize = 11;

// Writes the header of an Rread/Rreaddir carrying `count` payload bytes, for
// callers that place the payload themselves (zero copy into ring memory).
// The caller has checked 11 + count against reply_capacity().
void encode_data_reply_header(MsgType type, std::uint16_t tag, std::uint32_t count,
                              std::span<std::byte, kDataReplyHeaderSize> out);

}  // namespace xen9p::p9proto
