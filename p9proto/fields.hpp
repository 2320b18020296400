// The field types messages are made of: qids and the string, payload and
// walk-list kinds the decoder checks each in its own way.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <tuple>

#include "p9proto/constants.hpp"

namespace xen9p::p9proto {

struct Qid {
    std::uint8_t type = 0;
    std::uint32_t version = 0;
    std::uint64_t path = 0;

    friend bool operator==(const Qid&, const Qid&) = default;
    auto tie() { return std::tie(type, version, path); }
    auto tie() const { return std::tie(type, version, path); }
};

// String kinds. The decoder checks each kind; the encoder writes them as s[2].

// A name that creates or names a directory entry: 1..255 bytes, no '/', no NUL,
// not "." or "..".
struct Name {
    std::string_view str;
    friend bool operator==(const Name&, const Name&) = default;
};

// One Twalk element: as Name, but "." and ".." are allowed (the server keeps
// ".." from leaving the export).
struct WalkName {
    std::string_view str;
    friend bool operator==(const WalkName&, const WalkName&) = default;
};

// A symlink target: 1..4095 bytes, no NUL. Never resolved by the server.
struct Target {
    std::string_view str;
    friend bool operator==(const Target&, const Target&) = default;
};

// An xattr name: at most 255 bytes, no NUL (empty means "list" in Txattrwalk).
struct XattrName {
    std::string_view str;
    friend bool operator==(const XattrName&, const XattrName&) = default;
};

// Free text (version, uname, aname, lock client id): any bytes but NUL.
struct Text {
    std::string_view str;
    friend bool operator==(const Text&, const Text&) = default;
};

// count[4] followed by count bytes (Tread/Rread payloads, Rreaddir entries).
struct Data {
    std::span<const std::byte> bytes;
    friend bool operator==(const Data& a, const Data& b) {
        return std::ranges::equal(a.bytes, b.bytes);
    }
};

// nwname[2] followed by that many walk elements (at most 16).
struct WalkNames {
    std::array<WalkName, kMaxWalkElems> names{};
    std::uint16_t count = 0;

    std::span<const WalkName> view() const { return {names.data(), count}; }
    friend bool operator==(const WalkNames& a, const WalkNames& b) {
        return std::ranges::equal(a.view(), b.view());
    }
};

// nwqid[2] followed by that many qids (at most 16).
struct WalkQids {
    std::array<Qid, kMaxWalkElems> qids{};
    std::uint16_t count = 0;

    std::span<const Qid> view() const { return {qids.data(), count}; }
    friend bool operator==(const WalkQids& a, const WalkQids& b) {
        return std::ranges::equal(a.view(), b.view());
    }
};

}  // namespace xen9p::p9proto
