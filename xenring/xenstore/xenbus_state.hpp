// The `state` node of every PV device's frontend and backend directory: enum
// xenbus_state of Xen's public xen/io/xenbus.h, as a scoped enum so a state is
// never mixed up with another integer. The header also declares a global
// typedef XenbusState; ours is xen9p::xenstore::XenbusState.
#pragma once

#include <xen/io/xenbus.h>

namespace xen9p::xenstore {

enum class XenbusState : int {
    kUnknown = XenbusStateUnknown,
    kInitialising = XenbusStateInitialising,
    kInitWait = XenbusStateInitWait,
    kInitialised = XenbusStateInitialised,
    kConnected = XenbusStateConnected,
    kClosing = XenbusStateClosing,
    kClosed = XenbusStateClosed,
    kReconfiguring = XenbusStateReconfiguring,
    kReconfigured = XenbusStateReconfigured,
};

// The numbers are the text both ends write to xenstore: the ABI every guest
// was built against.
static_assert(static_cast<int>(XenbusState::kUnknown) == 0);
static_assert(static_cast<int>(XenbusState::kInitialising) == 1);
static_assert(static_cast<int>(XenbusState::kInitWait) == 2);
static_assert(static_cast<int>(XenbusState::kInitialised) == 3);
static_assert(static_cast<int>(XenbusState::kConnected) == 4);
static_assert(static_cast<int>(XenbusState::kClosing) == 5);
static_assert(static_cast<int>(XenbusState::kClosed) == 6);
static_assert(static_cast<int>(XenbusState::kReconfiguring) == 7);
static_assert(static_cast<int>(XenbusState::kReconfigured) == 8);

}  // namespace xen9p::xenstore
