// A guest's 9pfs device as the toolstack describes it in xenstore, and the
// three places libxl keeps it: the backend directory, the frontend directory
// and libxl's private copy of the pair.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "xenring/xenstore/xenstore.hpp"

namespace xen9p::toolstack {

// libxl's p9 types: `qemu` uses backend kind "9pfs" (the only one Xen 4.17
// knows), `xen_9pfsd` (Xen 4.19+) "xen_9pfs". The frontend is the same.
enum class BackendKind { k9pfs, kXen9pfs };

std::string_view kind_name(BackendKind kind);
std::optional<BackendKind> parse_kind(std::string_view name);

// The longest tag accepted (QEMU's MAX_TAG_LEN).
inline constexpr std::size_t kMaxTagLength = 255;

// Non-empty, at most kMaxTagLength bytes, printable ASCII without spaces, so
// it can be given to `mount -t 9p TAG` as one word.
bool is_valid_tag(std::string_view tag);

// The models xen9pd serves (QEMU's names).
bool is_security_model(std::string_view model);

// xen9pd's own backend key: the uid the device's worker runs as, when not
// the default (backend/supervisor/worker_uid.hpp). Only dom0 writes backend
// directories.
inline constexpr std::string_view kWorkerUidKey = "xen9pd-worker-uid";
// xen9pd's own backend key: the device's memory budget in MiB, 0 meaning the
// daemon's --max-memory (backend/worker_channel/worker_params.hpp bounds it).
inline constexpr std::string_view kMaxMemoryKey = "max-memory";

struct NinePfsDevice {
    DomId domid = 0;
    DomId backend_domid = 0;
    unsigned devid = 0;
    std::string tag;
    std::string path;
    std::string security_model = "none";
    BackendKind kind = BackendKind::k9pfs;
    // Written for kXen9pfs only, as libxl does (always, 0 meaning unlimited
    // or the backend default).
    unsigned max_space = 0;
    unsigned max_files = 0;
    unsigned max_open_files = 0;
    bool auto_delete = false;
    // Written as kWorkerUidKey and kMaxMemoryKey when set, for either kind.
    std::optional<unsigned> worker_uid{};
    std::optional<unsigned> max_memory_mib{};
};

std::string domain_home(DomId domid);
// /local/domain/<backend>/backend/<kind>/<domid>/<devid>
std::string backend_path(const NinePfsDevice& device);
std::string backend_path(DomId backend_domid, BackendKind kind, DomId domid, unsigned devid);
// /local/domain/<domid>/device/9pfs/<devid>, for both kinds.
std::string frontend_path(DomId domid, unsigned devid);
// /libxl/<domid>/device/9pfs/<devid>: libxl's copy, which the guest cannot write.
std::string libxl_path(DomId domid, unsigned devid);

// The backend directory `path` names, if it has exactly backend_path()'s
// shape for this guest and devid.
struct BackendLocation {
    DomId backend_domid = 0;
    BackendKind kind = BackendKind::k9pfs;
};
std::optional<BackendLocation> parse_backend_path(std::string_view path, DomId domid,
                                                  unsigned devid);

}  // namespace xen9p::toolstack
