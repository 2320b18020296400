// A temporary export for the server fuzzer with sentinels next to it:
//   <top>/export/      reset to a small tree before every input
//   <top>/sentinel     a file, and <top>/sentinel_dir/inner
// outside_changes() reports anything the server did outside the export.
#pragma once

#include <string>

namespace xen9p::fuzz {

class FuzzExport {
  public:
    FuzzExport();  // aborts on failure
    ~FuzzExport();
    FuzzExport(const FuzzExport&) = delete;
    FuzzExport& operator=(const FuzzExport&) = delete;

    const std::string& path() const { return export_; }

    // Replaces the export with the initial tree: file (12 bytes), dir/sub/deep,
    // link -> file, escape -> ../sentinel, empty/.
    void reset();

    // Empty when the top directory, the sentinels (contents, metadata, xattrs)
    // and the entries next to the export are as created; else what differs.
    std::string outside_changes() const;

  private:
    std::string snapshot() const;

    std::string top_;
    std::string export_;
    std::string baseline_;
};

}  // namespace xen9p::fuzz
