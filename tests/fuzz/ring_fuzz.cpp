// libFuzzer target: the ring consumer and producer against a lying guest.
// The fuzz input is a program for the guest: it picks ring_order and the
// indices, produces (possibly malformed) messages, rewrites fields and data
// between calls, and arms scripts that change the shared page and data area
// between the individual loads of one call (FaultScript). Checked after every
// call: no access outside the half in use (the rest of the arena is
// inaccessible), a handed-out message is exactly its validated size with that
// size in its header, errors are sticky, and when no script change landed the
// result equals a reference model of the ring protocol.
#include <fuzzer/FuzzedDataProvider.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "tests/fuzz/fault_script.hpp"
#include "xenring/ring/data_intf.hpp"
#include "xenring/ring/ring_reader.hpp"
#include "xenring/ring/ring_writer.hpp"

namespace {

using namespace xen9p::ring;
using xen9p::fuzz::Access;
using xen9p::fuzz::Change;
using xen9p::fuzz::FaultScript;
using xen9p::fuzz::Window;

constexpr std::size_t kMaxArea = data_area_size(kMaxRingOrder);
constexpr std::size_t kMaxOps = 64;

void require(bool condition, const char* what) {
    if (condition) return;
    std::fprintf(stderr, "ring_fuzz: invariant broken: %s\n", what);
    std::abort();
}

std::uint32_t le32(const std::byte* p) {
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i)
        v = v << 8 | static_cast<std::uint32_t>(p[i]);
    return v;
}

// memcpy that accepts the null data() of empty vectors.
void copy_bytes(void* dst, const void* src, std::size_t n) {
    if (n != 0) std::memcpy(dst, src, n);
}

// Script changes that landed inside a call, over the whole run: printed at
// exit, so a run shows that the double-fetch path was exercised.
std::size_t g_changes_landed = 0;

void report_changes() {
    std::fprintf(stderr, "ring_fuzz: %zu scripted changes landed between loads\n",
                 g_changes_landed);
}

// Arena layout: guard, the interface page, guard, the largest data area, guard.
struct Arena {
    FaultScript* script;
    DataIntf* intf;
    std::byte* data_end;
};

Arena& arena() {
    static Arena a = [] {
        FaultScript& script = FaultScript::create(4 * kXenPageSize + kMaxArea);
        std::atexit(report_changes);
        std::byte* base = script.arena();
        return Arena{&script, reinterpret_cast<DataIntf*>(base + kXenPageSize),
                     base + 3 * kXenPageSize + kMaxArea};
    }();
    return a;
}

class Guest {
  public:
    explicit Guest(FuzzedDataProvider& in) : in_(in), a_(arena()) {}

    void run();

  private:
    enum class Phase { kGuest, kOrder, kRead, kWrite };

    void enter(Phase phase);
    std::uint32_t fuzzed_index(std::uint32_t near);
    // Reads ring_order (and the refs) as the backend does; returns the order to use.
    unsigned check_order();
    void produce();
    void poke_field();
    void poke_data();
    void plan_changes();
    void read();
    void write();
    void publish();
    // The changes planned for the next call that lie in what it may touch.
    std::vector<Change> changes_for(Phase phase) const;
    void copy_from_out(std::uint32_t at, std::span<std::byte> dst) const;
    std::size_t expected_read() const;
    int expected_read_error() const;

    FuzzedDataProvider& in_;
    Arena& a_;
    unsigned order_ = 1;
    std::size_t half_ = 0;
    std::byte* in_half_ = nullptr;
    std::byte* out_half_ = nullptr;
    std::vector<Change> planned_;
    // The guest's own producer position on the out half.
    std::uint32_t guest_prod_ = 0;
    // Model of the backend: consumer and producer positions, sticky errors.
    std::uint32_t cons_ = 0;
    std::uint32_t prod_ = 0;
    std::size_t msize_ = 0;
    int read_error_ = 0;
    int write_error_ = 0;
    std::vector<std::byte> dst_;
    std::optional<RingReader> reader_;
    std::optional<RingWriter> writer_;
};

void Guest::enter(Phase phase) {
    std::byte* intf = reinterpret_cast<std::byte*>(a_.intf);
    switch (phase) {
        case Phase::kGuest: {
            const Window w[] = {{intf, kXenPageSize, Access::kReadWrite},
                                {a_.data_end - kMaxArea, kMaxArea, Access::kReadWrite}};
            a_.script->set_windows(w);
            break;
        }
        case Phase::kOrder: {
            const Window w[] = {{intf, kXenPageSize, Access::kRead}};
            a_.script->set_windows(w);
            break;
        }
        case Phase::kRead: {
            const Window w[] = {{intf, kXenPageSize, Access::kReadWrite},
                                {out_half_, half_, Access::kRead}};
            a_.script->set_windows(w);
            break;
        }
        case Phase::kWrite: {
            const Window w[] = {{intf, kXenPageSize, Access::kReadWrite},
                                {in_half_, half_, Access::kReadWrite}};
            a_.script->set_windows(w);
            break;
        }
    }
}

std::uint32_t Guest::fuzzed_index(std::uint32_t near) {
    if (in_.ConsumeBool()) return in_.ConsumeIntegral<std::uint32_t>();
    return near + static_cast<std::uint32_t>(in_.ConsumeIntegralInRange<std::int64_t>(
                      -8, static_cast<std::int64_t>(2 * half_ + 8)));
}

unsigned Guest::check_order() {
    const unsigned max_order = in_.ConsumeIntegralInRange<unsigned>(1, kMaxRingOrder);
    const std::uint32_t raw = in_.ConsumeBool() ? in_.ConsumeIntegral<std::uint32_t>()
                                                : in_.ConsumeIntegralInRange<std::uint32_t>(0, 11);
    a_.intf->ring_order = raw;
    for (std::size_t i = 0; i < kMaxRefs; ++i)
        a_.intf->ref[i] = static_cast<std::uint32_t>(i * 7 + 1);
    enter(Phase::kOrder);
    a_.script->arm(changes_for(Phase::kOrder));
    auto order = read_ring_order(*a_.intf, max_order);
    std::vector<std::uint32_t> refs;
    if (order) refs = read_refs(*a_.intf, *order);
    const std::size_t applied = a_.script->disarm();
    g_changes_landed += applied;
    planned_.clear();
    enter(Phase::kGuest);
    if (order) {
        require(*order >= 1 && *order <= max_order, "ring order out of bounds");
        require(refs.size() == std::size_t{1} << *order, "wrong number of refs");
    } else {
        require(order.error().value == EPROTO, "bad ring order not EPROTO");
    }
    if (applied == 0) {
        require(order.has_value() == (raw >= 1 && raw <= max_order), "ring order check");
        for (std::size_t i = 0; i < refs.size(); ++i)
            require(refs[i] == i * 7 + 1, "refs not copied");
    }
    return order ? *order : 1;
}

void Guest::plan_changes() {
    const std::size_t count = in_.ConsumeIntegralInRange<std::size_t>(1, 12);
    std::byte* intf = reinterpret_cast<std::byte*>(a_.intf);
    constexpr std::size_t kFields[] = {offsetof(DataIntf, in_cons), offsetof(DataIntf, in_prod),
                                       offsetof(DataIntf, out_cons), offsetof(DataIntf, out_prod),
                                       offsetof(DataIntf, ring_order)};
    for (std::size_t i = 0; i < count && in_.remaining_bytes() > 0; ++i) {
        switch (in_.ConsumeIntegralInRange(0, 3)) {
            case 0: {
                const std::size_t field = kFields[in_.ConsumeIntegralInRange<std::size_t>(0, 4)];
                planned_.push_back({intf + field, fuzzed_index(guest_prod_), 4});
                break;
            }
            case 1: {
                // The size field of the header the reader is about to validate.
                const std::size_t at = mask_index(cons_, half_);
                const auto size = in_.ConsumeIntegralInRange<std::uint32_t>(0, 2 * half_ + 8);
                if (at + 4 <= half_) {
                    planned_.push_back({out_half_ + at, size, 4});
                } else {
                    planned_.push_back({out_half_ + at, size & 0xff, 1});
                }
                break;
            }
            case 2: {
                const auto at = in_.ConsumeIntegralInRange<std::size_t>(0, 2 * half_ - 1);
                planned_.push_back({in_half_ + at, in_.ConsumeIntegral<std::uint8_t>(), 1});
                break;
            }
            case 3: {
                const auto ref = in_.ConsumeIntegralInRange<std::size_t>(0, kMaxRefs - 1);
                planned_.push_back({intf + offsetof(DataIntf, ref) + 4 * ref,
                                    in_.ConsumeIntegral<std::uint32_t>(), 4});
                break;
            }
        }
    }
}

std::vector<Change> Guest::changes_for(Phase phase) const {
    std::byte* intf = reinterpret_cast<std::byte*>(a_.intf);
    std::vector<Change> out;
    for (const Change& c : planned_) {
        const bool in_intf = c.at >= intf && c.at < intf + kXenPageSize;
        const bool in_in = c.at >= in_half_ && c.at < in_half_ + half_;
        const bool in_out = c.at >= out_half_ && c.at < out_half_ + half_;
        if (in_intf || (phase == Phase::kRead && in_out) || (phase == Phase::kWrite && in_in))
            out.push_back(c);
    }
    return out;
}

void Guest::produce() {
    const auto size = in_.ConsumeIntegralInRange<std::uint32_t>(0, half_ + 16);
    std::vector<std::byte> message(std::min<std::size_t>(size, half_));
    const std::uint32_t header =
        in_.ConsumeIntegralInRange(0, 3) == 0 ? in_.ConsumeIntegral<std::uint32_t>() : size;
    for (std::size_t i = 0; i < 4 && i < message.size(); ++i)
        message[i] = static_cast<std::byte>(header >> (8 * i));
    const auto body = in_.ConsumeBytes<std::uint8_t>(message.size() > 4 ? message.size() - 4 : 0);
    copy_bytes(message.data() + std::min<std::size_t>(4, message.size()), body.data(), body.size());
    const std::size_t start = mask_index(guest_prod_, half_);
    const std::size_t first = std::min(message.size(), half_ - start);
    copy_bytes(out_half_ + start, message.data(), first);
    copy_bytes(out_half_, message.data() + first, message.size() - first);
    guest_prod_ += size;
    if (in_.ConsumeBool()) a_.intf->out_prod = guest_prod_;
}

void Guest::poke_field() {
    std::uint32_t* fields[] = {&a_.intf->in_cons, &a_.intf->in_prod, &a_.intf->out_cons,
                               &a_.intf->out_prod, &a_.intf->ring_order};
    std::uint32_t* field = fields[in_.ConsumeIntegralInRange<std::size_t>(0, 4)];
    *field = fuzzed_index(*field);
    if (field == &a_.intf->out_prod) guest_prod_ = *field;
}

void Guest::poke_data() {
    const auto at = in_.ConsumeIntegralInRange<std::size_t>(0, 2 * half_ - 1);
    const auto bytes = in_.ConsumeBytes<std::uint8_t>(std::min<std::size_t>(16, 2 * half_ - at));
    copy_bytes(in_half_ + at, bytes.data(), bytes.size());
}

void Guest::copy_from_out(std::uint32_t at, std::span<std::byte> dst) const {
    const std::size_t start = mask_index(at, half_);
    const std::size_t first = std::min(dst.size(), half_ - start);
    copy_bytes(dst.data(), out_half_ + start, first);
    copy_bytes(dst.data() + first, out_half_, dst.size() - first);
}

int Guest::expected_read_error() const {
    const std::size_t avail = static_cast<std::uint32_t>(a_.intf->out_prod - cons_);
    if (avail > half_) return EPROTO;
    if (avail < kHeaderSize) return 0;
    std::byte header[4];
    copy_from_out(cons_, header);
    const std::size_t size = le32(header);
    if (size < kHeaderSize || size > msize_ || size > half_ || size > dst_.size()) return EMSGSIZE;
    return 0;
}

std::size_t Guest::expected_read() const {
    const std::size_t avail = static_cast<std::uint32_t>(a_.intf->out_prod - cons_);
    if (avail < kHeaderSize) return 0;
    std::byte header[4];
    copy_from_out(cons_, header);
    const std::size_t size = le32(header);
    return size > avail ? 0 : size;
}

void Guest::read() {
    const int want_error = expected_read_error();
    const std::size_t want = want_error == 0 ? expected_read() : 0;
    std::vector<std::byte> before(want);
    copy_from_out(cons_, before);
    const std::uint32_t cons_field = a_.intf->out_cons;

    enter(Phase::kRead);
    a_.script->arm(changes_for(Phase::kRead));
    auto got = reader_->read(dst_);
    const std::size_t applied = a_.script->disarm();
    g_changes_landed += applied;
    planned_.clear();
    enter(Phase::kGuest);

    if (read_error_ != 0) {
        require(!got && got.error().value == read_error_, "read error not sticky");
        return;
    }
    if (!got) {
        const int e = got.error().value;
        require(e == EPROTO || e == EMSGSIZE, "unexpected read error");
        require(applied != 0 || e == want_error, "read error differs from the model");
        read_error_ = e;
        return;
    }
    const std::size_t n = *got;
    if (applied == 0) {
        require(want_error == 0 && n == want, "read result differs from the model");
    }
    if (n == 0) {
        if (applied == 0) require(a_.intf->out_cons == cons_field, "consumer moved without a read");
        return;
    }
    require(n >= kHeaderSize && n <= msize_ && n <= half_, "message size out of bounds");
    require(le32(dst_.data()) == n, "header size differs from the validated one");
    if (applied == 0) require(std::memcmp(dst_.data(), before.data(), n) == 0, "bytes differ");
    cons_ += static_cast<std::uint32_t>(n);
    require(a_.intf->out_cons == cons_, "consumer index not published");
}

void Guest::write() {
    const auto size = in_.ConsumeIntegralInRange<std::size_t>(0, half_ + 8);
    std::vector<std::byte> message(size, std::byte{0x5a});
    for (std::size_t i = 0; i < 4 && i < size; ++i)
        message[i] = static_cast<std::byte>(size >> (8 * i));
    const bool and_publish = in_.ConsumeBool();
    const std::uint32_t cons = a_.intf->in_cons;
    const std::uint32_t prod_field = a_.intf->in_prod;

    enter(Phase::kWrite);
    a_.script->arm(changes_for(Phase::kWrite));
    auto done = and_publish ? writer_->write_and_publish(message) : writer_->write(message);
    const std::size_t applied = a_.script->disarm();
    g_changes_landed += applied;
    planned_.clear();
    enter(Phase::kGuest);

    int want = 0;
    const std::size_t used = static_cast<std::uint32_t>(prod_ - cons);
    if (write_error_ != 0) {
        want = write_error_;
    } else if (size > half_) {
        want = EMSGSIZE;
    } else if (used > half_) {
        want = EPROTO;
    } else if (size > half_ - used) {
        want = EAGAIN;
    }
    if (write_error_ != 0) {
        require(!done && done.error().value == write_error_, "write error not sticky");
        return;
    }
    if (!done) {
        const int e = done.error().value;
        require(e == EPROTO || e == EMSGSIZE || e == EAGAIN, "unexpected write error");
        require(applied != 0 || e == want, "write error differs from the model");
        if (e == EPROTO) write_error_ = e;
        require(a_.intf->in_prod == prod_field || applied != 0, "failed write published");
        return;
    }
    require(size <= half_, "oversized write accepted");
    if (applied == 0) {
        require(want == 0, "write succeeded against the model");
        std::vector<std::byte> placed(size);
        const std::size_t start = mask_index(prod_, half_);
        const std::size_t first = std::min(size, half_ - start);
        copy_bytes(placed.data(), in_half_ + start, first);
        copy_bytes(placed.data() + first, in_half_, size - first);
        require(placed == message, "written bytes differ");
    }
    prod_ += static_cast<std::uint32_t>(size);
    if (and_publish) require(a_.intf->in_prod == prod_, "producer index not published");
}

void Guest::publish() {
    writer_->publish();
    require(a_.intf->in_prod == prod_, "publish did not store the producer index");
}

void Guest::run() {
    // Only the area the previous input used can be dirty.
    static std::size_t dirty = kMaxArea;
    enter(Phase::kGuest);
    std::memset(static_cast<void*>(a_.intf), 0, kXenPageSize);
    std::memset(a_.data_end - dirty, 0, dirty);
    order_ = check_order();
    half_ = flex_ring_size(order_);
    dirty = 2 * half_;
    in_half_ = a_.data_end - 2 * half_;
    out_half_ = in_half_ + half_;
    a_.intf->out_cons = in_.ConsumeIntegral<std::uint32_t>();
    a_.intf->out_prod = a_.intf->out_cons;
    a_.intf->in_cons = in_.ConsumeIntegral<std::uint32_t>();
    a_.intf->in_prod = a_.intf->in_cons;
    guest_prod_ = a_.intf->out_prod;
    cons_ = a_.intf->out_cons;
    prod_ = a_.intf->in_prod;
    msize_ = in_.ConsumeIntegralInRange<std::size_t>(kHeaderSize, 2 * half_);
    dst_.assign(msize_, std::byte{0});
    const std::span<std::byte> area(in_half_, 2 * half_);
    reader_.emplace(RingReader::backend(*a_.intf, area, order_, msize_));
    writer_.emplace(RingWriter::backend(*a_.intf, area, order_));

    for (std::size_t op = 0; op < kMaxOps && in_.remaining_bytes() > 0; ++op) {
        switch (in_.ConsumeIntegralInRange(0, 9)) {
            case 0:
            case 1:
                produce();
                break;
            case 2:
                poke_field();
                break;
            case 3:
                poke_data();
                break;
            case 4:
                plan_changes();
                break;
            case 5:
            case 6:
                read();
                break;
            case 7:
                write();
                break;
            case 8:
                publish();
                break;
            case 9:
                if (in_.ConsumeBool()) {
                    check_order();
                } else {
                    msize_ = in_.ConsumeIntegralInRange<std::size_t>(kHeaderSize, dst_.size());
                    reader_->set_msize(msize_);
                }
                break;
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    Guest(in).run();
    return 0;
}
