// Test helpers: builds 9P byte strings field by field, independently of the
// codec, so golden vectors come from the wire table and not from the encoder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace xen9p::p9proto::test {

using Bytes = std::vector<std::byte>;

// "15 00 00 00 64" -> bytes.
inline Bytes hex(std::string_view text) {
    Bytes out;
    int nibble = -1;
    for (char c : text) {
        int v = -1;
        if (c >= '0' && c <= '9') v = c - '0';
        if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
        if (v < 0) continue;
        if (nibble < 0) {
            nibble = v;
        } else {
            out.push_back(static_cast<std::byte>(nibble * 16 + v));
            nibble = -1;
        }
    }
    return out;
}

class Wire {
  public:
    Wire& u8(std::uint64_t v) { return le(v, 1); }
    Wire& u16(std::uint64_t v) { return le(v, 2); }
    Wire& u32(std::uint64_t v) { return le(v, 4); }
    Wire& u64(std::uint64_t v) { return le(v, 8); }
    Wire& str(std::string_view s) {
        u16(s.size());
        return raw(s);
    }
    Wire& raw(std::string_view s) {
        for (char c : s)
            body_.push_back(static_cast<std::byte>(c));
        return *this;
    }
    Wire& qid(std::uint8_t type, std::uint32_t version, std::uint64_t path) {
        return u8(type).u32(version).u64(path);
    }

    // size[4] type[1] tag[2] followed by the body.
    Bytes message(std::uint8_t type, std::uint16_t tag) const {
        Wire whole;
        whole.u32(7 + body_.size()).u8(type).u16(tag);
        Bytes out = whole.body_;
        out.insert(out.end(), body_.begin(), body_.end());
        return out;
    }
    const Bytes& body() const { return body_; }

  private:
    Wire& le(std::uint64_t v, int width) {
        for (int i = 0; i < width; ++i)
            body_.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xff));
        return *this;
    }
    Bytes body_;
};

inline std::span<const std::byte> as_span(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

// Overwrites size[4] of a message.
inline void set_size(Bytes& msg, std::uint32_t size) {
    for (int i = 0; i < 4; ++i)
        msg[i] = static_cast<std::byte>((size >> (8 * i)) & 0xff);
}

}  // namespace xen9p::p9proto::test
