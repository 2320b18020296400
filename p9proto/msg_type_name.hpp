// Names of the 9P2000.L requests, as people read them in logs and statistics.
#pragma once

#include <optional>
#include <string_view>

#include "p9proto/constants.hpp"

namespace xen9p::p9proto {

// "walk" for Twalk, "lopen" for Tlopen; "" for replies and unknown numbers.
std::string_view request_name(MsgType type);
// The request named so; nullopt for anything request_name never returns.
std::optional<MsgType> request_of_name(std::string_view name);

}  // namespace xen9p::p9proto
