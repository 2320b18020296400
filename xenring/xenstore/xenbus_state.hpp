// enum xenbus_state of xen/include/public/io/xenbus.h: the `state` node of
// every PV device's frontend and backend directory.
#pragma once

namespace xen9p::xenstore {

enum class XenbusState : int {
    kUnknown = 0,
    kInitialising = 1,
    kInitWait = 2,
    kInitialised = 3,
    kConnected = 4,
    kClosing = 5,
    kClosed = 6,
    kReconfiguring = 7,
    kReconfigured = 8,
};

}  // namespace xen9p::xenstore
