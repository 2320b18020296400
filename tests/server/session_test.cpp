// Session behaviour that needs control over timing: a fake transport feeds
// requests and records replies while the test turns the event loop itself, so
// a request is known to be in flight when the next one arrives.
#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>

#include "p9proto/open_flags.hpp"
#include "tests/server/server_fixture.hpp"

namespace xen9p::server::test {
namespace {

using namespace p9proto;

std::size_t encode_request(const Request& request, std::vector<std::byte>& buffer) {
    auto size = encode(request, buffer);
    BOOST_REQUIRE(size.has_value());
    return *size;
}

struct Sent {
    Route route = 0;
    std::vector<std::byte> bytes;
    std::uint64_t cookie = 0;
};

// Records every reply; on_sent is reported only when the test says so.
class FakeTransport final : public Transport {
  public:
    struct State {
        TransportSink* sink = nullptr;
        std::vector<Sent> sent;
        std::uint32_t msize = 0;
        bool closed = false;
        int resumed = 0;
        // With `rooms`, replies' data may be placed in room reserved for
        // them, kept here by request position, in two pieces as at a wrap.
        bool rooms = false;
        std::map<std::uint32_t, std::vector<std::byte>> room;
        int in_place = 0;
        int unreserved = 0;
        int dropped_rooms = 0;
    };

    explicit FakeTransport(State& state) : state_(state) {}
    void start(TransportSink& sink) override { state_.sink = &sink; }
    std::uint32_t max_msize() const override { return 64 * 1024; }
    void set_msize(std::uint32_t msize) override { state_.msize = msize; }
    void send(const Origin& origin, std::span<const std::byte> bytes,
              std::uint64_t cookie) override {
        state_.room.erase(origin.position);
        state_.sent.push_back({origin.route, {bytes.begin(), bytes.end()}, cookie});
    }
    void drop(const Origin& origin) override {
        state_.dropped_rooms += state_.room.erase(origin.position);
    }
    std::optional<MutableSplitBytes> reserve_reply(const Origin& origin, std::size_t head,
                                                   std::size_t data) override {
        if (!state_.rooms) return std::nullopt;
        auto& room = state_.room[origin.position];
        room.assign(head + data, std::byte{0});
        const auto place = std::span(room).subspan(head);
        return MutableSplitBytes{place.first(data / 3), place.subspan(data / 3)};
    }
    void send_in_place(const Origin& origin, std::span<const std::byte> head,
                       std::size_t data_length, std::uint64_t cookie) override {
        auto room = state_.room.extract(origin.position);
        BOOST_REQUIRE(!room.empty());
        BOOST_REQUIRE(head.size() + data_length <= room.mapped().size());
        std::ranges::copy(head, room.mapped().begin());
        room.mapped().resize(head.size() + data_length);
        state_.sent.push_back({origin.route, std::move(room.mapped()), cookie});
        ++state_.in_place;
    }
    void unreserve(const Origin& origin) override {
        state_.unreserved += state_.room.erase(origin.position);
    }
    void resume_input() override { ++state_.resumed; }
    void close() override {
        if (state_.closed) return;
        state_.closed = true;
        state_.sink->on_closed();
    }
    bool finished() const override { return state_.closed; }
    const std::string& name() const override { return name_; }

  private:
    State& state_;
    std::string name_ = "fake";
};

struct SessionFx {
    SessionFx(SessionConfig config = {})
        : ex(must(fs::Export::open(dir.path(), {}))), loop(must(io::EventLoop::create())) {
        config.aname = dir.path();
        session = std::make_unique<Session>(loop, ex, std::make_unique<FakeTransport>(state),
                                            config, ops);
        session->start();
    }
    ~SessionFx() {
        session->close();
        while (!session->finished())
            BOOST_REQUIRE(loop.run_once());
    }

    bool feed(std::uint16_t tag, const RequestBody& body, Route route = 0) {
        std::vector<std::byte> buffer(64 * 1024);
        auto size = encode_request(Request{tag, body}, buffer);
        return state.sink->on_message({route, tag}, std::span(buffer).first(size), {});
    }
    // A Twrite as a ring transport hands it over when it leaves the data in
    // the ring: its fields up to count[4], and the data elsewhere.
    bool feed_write(std::uint16_t tag, std::uint32_t fid, std::uint64_t offset, SplitBytes data,
                    std::uint32_t count) {
        std::vector<std::byte> head(kWriteHeaderSize);
        BOOST_REQUIRE(encode_request(Request{tag, Twrite{fid, offset, {}}}, head) == head.size());
        const auto size = static_cast<std::uint32_t>(head.size() + data.size());
        for (int i = 0; i < 4; ++i) {
            head[i] = static_cast<std::byte>(size >> (8 * i));
            head[kWriteHeaderSize - 4 + i] = static_cast<std::byte>(count >> (8 * i));
        }
        return state.sink->on_message({}, head, data);
    }
    // Turns the loop until nothing is pending.
    void drain() {
        while (loop.pending() != 0)
            BOOST_REQUIRE(loop.run_once());
    }
    Reply reply(std::size_t i) {
        BOOST_REQUIRE(i < state.sent.size());
        auto r = decode_reply(state.sent[i].bytes, 64 * 1024);
        BOOST_REQUIRE(r.has_value());
        return *r;
    }
    void ack_all() {
        auto sent = std::move(state.sent);
        state.sent.clear();
        for (auto& s : sent)
            state.sink->on_sent(s.cookie);
    }
    // Tversion + Tattach as fid 1, replies acknowledged.
    void attach() {
        feed(kNoTag, Tversion{64 * 1024, {kVersion9P2000L}});
        feed(1, Tattach{1, kNoFid, {""}, {""}, ::getuid()});
        BOOST_REQUIRE(std::holds_alternative<Rattach>(reply(1).body));
        ack_all();
    }
    void open_file(std::uint32_t fid, std::string_view name, std::string_view content) {
        write_file(dir / std::string(name), content);
        feed(2, Twalk{1, fid, {{WalkName{name}}, 1}});
        feed(3, Tlopen{fid, dotl::kRdwr});
        BOOST_REQUIRE(std::holds_alternative<Rlopen>(reply(1).body));
        ack_all();
    }

    TempDir dir;
    fs::Export ex;
    io::EventLoop loop;
    FakeTransport::State state;
    stats::OpStats ops;
    std::unique_ptr<Session> session;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(session)

BOOST_AUTO_TEST_CASE(flushed_request_is_answered_before_rflush_on_another_route_or_not_at_all) {
    SessionFx fx;
    fx.attach();
    fx.open_file(2, "f", "abc");
    fx.feed(10, Tread{2, 0, 3}, 0);
    fx.feed(11, Tflush{10}, 1);
    fx.drain();
    BOOST_REQUIRE(!fx.state.sent.empty());
    if (fx.reply(0).tag == 10) {
        // The read won the race: its reply is queued (not yet on_sent), so
        // Rflush must not be handed over yet.
        BOOST_TEST(fx.state.sent.size() == 1u);
        fx.state.sink->on_sent(fx.state.sent[0].cookie);
        BOOST_REQUIRE(fx.state.sent.size() == 2u);
        BOOST_TEST(fx.reply(1).tag == 11);
    } else {
        BOOST_TEST(fx.state.sent.size() == 1u);
        BOOST_TEST(fx.reply(0).tag == 11);
    }
}

BOOST_AUTO_TEST_CASE(flush_of_a_reply_still_queued_in_the_transport_waits_for_it) {
    SessionFx fx;
    fx.attach();
    fx.feed(10, Tgetattr{1, getattr::kBasic}, 0);
    BOOST_REQUIRE(fx.state.sent.size() == 1u);
    fx.feed(11, Tflush{10}, 1);
    BOOST_TEST(fx.state.sent.size() == 1u);
    fx.state.sink->on_sent(fx.state.sent[0].cookie);
    BOOST_REQUIRE(fx.state.sent.size() == 2u);
    BOOST_TEST(fx.reply(1).tag == 11);
    BOOST_TEST(fx.state.sent[1].route == 1u);
}

BOOST_AUTO_TEST_CASE(flush_of_an_unknown_tag_is_answered_at_once) {
    SessionFx fx;
    fx.attach();
    fx.feed(11, Tflush{77});
    BOOST_REQUIRE(fx.state.sent.size() == 1u);
    BOOST_TEST(std::holds_alternative<Rflush>(fx.reply(0).body));
}

BOOST_AUTO_TEST_CASE(tversion_drops_requests_in_flight_and_clunks_every_fid) {
    SessionFx fx;
    fx.attach();
    fx.open_file(2, "f", "abc");
    fx.feed(10, Tread{2, 0, 3});
    fx.feed(kNoTag, Tversion{8192, {kVersion9P2000L}});
    fx.drain();
    BOOST_REQUIRE(fx.state.sent.size() == 1u);
    Reply first = fx.reply(0);
    auto* rversion = std::get_if<Rversion>(&first.body);
    BOOST_REQUIRE(rversion != nullptr);
    BOOST_TEST(rversion->msize == 8192u);
    BOOST_TEST(fx.state.msize == 8192u);
    fx.ack_all();
    fx.feed(12, Tgetattr{1, getattr::kBasic});
    Reply second = fx.reply(0);
    auto* lerror = std::get_if<Rlerror>(&second.body);
    BOOST_REQUIRE(lerror != nullptr);
    BOOST_TEST(lerror->ecode == static_cast<std::uint32_t>(EBADF));
}

BOOST_AUTO_TEST_CASE(msize_is_capped_by_the_transport_and_small_or_foreign_versions_refused) {
    SessionFx fx;
    fx.feed(kNoTag, Tversion{1 << 24, {kVersion9P2000L}});
    BOOST_TEST(std::get<Rversion>(fx.reply(0).body).msize == 64u * 1024);
    fx.feed(kNoTag, Tversion{1024, {kVersion9P2000L}});
    BOOST_TEST(std::holds_alternative<Rlerror>(fx.reply(1).body));
    fx.feed(kNoTag, Tversion{8192, {"9P2000.x"}});
    BOOST_TEST(std::get<Rversion>(fx.reply(2).body).version.str == kVersionUnknown);
    // No session was negotiated: other requests are refused.
    fx.feed(5, Tattach{1, kNoFid, {""}, {""}, ::getuid()});
    BOOST_TEST(std::get<Rlerror>(fx.reply(3).body).ecode == static_cast<std::uint32_t>(EPROTO));
}

BOOST_AUTO_TEST_CASE(a_refused_version_is_a_log_line_with_the_offer_sanitised) {
    // stderr, where the logger writes, into a file for the test's duration.
    const std::string path = "/tmp/xen9p_version_log_" + std::to_string(::getpid());
    const int saved = ::dup(STDERR_FILENO);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    BOOST_REQUIRE(saved >= 0 && fd >= 0);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
    {
        SessionFx fx;
        const std::string offer = "9P2000.x\x01\n" + std::string(100, 'v');
        fx.feed(kNoTag, Tversion{8192, {offer}});
        BOOST_TEST(std::get<Rversion>(fx.reply(0).body).version.str == kVersionUnknown);
        // Agreed versions are not logged.
        fx.feed(kNoTag, Tversion{8192, {kVersion9P2000u}});
        BOOST_TEST(std::get<Rversion>(fx.reply(1).body).version.str == kVersion9P2000u);
    }
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    std::ifstream in(path);
    std::vector<std::string> refused;
    for (std::string line; std::getline(in, line);) {
        if (line.find("9P version refused") != std::string::npos) refused.push_back(line);
    }
    ::unlink(path.c_str());
    BOOST_REQUIRE(refused.size() == 1u);
    // Control bytes replaced, cut to 32 characters.
    BOOST_TEST(
        refused[0].find("offered=9P2000.x??" + std::string(22, 'v') + "...") != std::string::npos,
        refused[0]);
    BOOST_TEST(refused[0].find(std::string(23, 'v')) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(pool_exhaustion_pauses_input_until_a_reply_is_sent) {
    SessionConfig config;
    config.max_in_flight = 4;
    SessionFx fx(config);
    fx.attach();
    for (std::uint16_t tag = 1; tag <= 4; ++tag) {
        BOOST_TEST(fx.feed(tag, Tgetattr{1, getattr::kBasic}));
    }
    BOOST_TEST(!fx.feed(5, Tgetattr{1, getattr::kBasic}));
    BOOST_TEST(fx.session->stats().max_in_flight == 4u);
    BOOST_TEST(fx.state.resumed == 0);
    fx.state.sink->on_sent(fx.state.sent.front().cookie);
    BOOST_TEST(fx.state.resumed == 1);
    BOOST_TEST(fx.feed(5, Tgetattr{1, getattr::kBasic}));
}

BOOST_AUTO_TEST_CASE(request_buffer_is_a_pool_slot_that_serves_the_request_placed_in_it) {
    SessionConfig config;
    config.max_in_flight = 2;
    SessionFx fx(config);
    fx.attach();
    auto* sink = fx.state.sink;
    // What the ring does: copy the request into the sink's buffer, then hand it over.
    auto place = [&](std::uint16_t tag) {
        const Request request{tag, Tgetattr{1, getattr::kBasic}};
        auto buffer = sink->request_buffer(encoded_size(request));
        BOOST_REQUIRE(!buffer.empty());
        auto size = encode(request, buffer);
        BOOST_REQUIRE(size.has_value());
        BOOST_TEST(sink->on_message({}, buffer.first(*size), {}));
        return buffer.data();
    };
    auto* first = place(1);
    auto* second = place(2);
    // Both requests hold their slots until their replies are sent.
    BOOST_TEST(first != second);
    BOOST_REQUIRE(fx.state.sent.size() == 2u);
    BOOST_TEST(std::holds_alternative<Rgetattr>(fx.reply(0).body));
    BOOST_TEST(std::holds_alternative<Rgetattr>(fx.reply(1).body));
    BOOST_TEST(sink->request_buffer(64).empty());
    BOOST_TEST(fx.state.resumed == 0);
    sink->on_sent(fx.state.sent[0].cookie);
    BOOST_TEST(fx.state.resumed == 1);
    BOOST_TEST(sink->request_buffer(64).data() == first);
    BOOST_TEST(fx.session->stats().requests == 4u);
}

BOOST_AUTO_TEST_CASE(requests_wait_while_the_buffer_budget_is_spent_and_run_when_it_frees) {
    SessionConfig config;
    config.max_memory = 1 << 20;  // 512 KiB of it for buffers
    SessionFx fx(config);
    fx.attach();
    fx.open_file(2, "f", std::string(8192, 'x'));
    // Each read holds a one-page request and a 56 KiB reply: eight fit.
    const std::uint32_t count = 56 * 1024 - kDataReplyHeaderSize;
    for (std::uint16_t tag = 10; tag < 18; ++tag)
        BOOST_TEST(fx.feed(tag, Tread{2, 0, count}));
    fx.drain();
    BOOST_REQUIRE(fx.state.sent.size() == 8u);
    // The ninth request is taken, but waits for its reply buffer...
    BOOST_TEST(fx.feed(18, Tread{2, 0, count}));
    fx.drain();
    BOOST_TEST(fx.state.sent.size() == 8u);
    // ...and nothing more comes in meanwhile.
    BOOST_TEST(!fx.feed(19, Tread{2, 0, count}));
    BOOST_TEST(fx.session->memory() <= config.max_memory);
    BOOST_TEST(fx.state.resumed == 0);
    fx.state.sink->on_sent(fx.state.sent.front().cookie);
    fx.drain();
    BOOST_REQUIRE(fx.state.sent.size() == 9u);
    BOOST_TEST(fx.reply(8).tag == 18);
    BOOST_TEST(std::get<Rread>(fx.reply(8).body).data.bytes.size() == 8192u);
    BOOST_TEST(fx.state.resumed == 1);
    BOOST_TEST(fx.feed(19, Tread{2, 0, count}));
    BOOST_TEST(fx.session->memory() <= config.max_memory);
}

BOOST_AUTO_TEST_CASE(xattr_values_kept_past_the_value_budget_get_enomem) {
    SessionConfig config;
    config.max_memory = 1 << 20;  // 512 KiB of it for values kept by fids
    SessionFx fx(config);
    fx.attach();
    write_file(fx.dir / "f", "");
    auto create = [&fx](std::uint32_t fid) {
        fx.state.sent.clear();
        fx.feed(2, Twalk{1, fid, {{WalkName{"f"}}, 1}});
        fx.feed(3, Txattrcreate{fid, {"user.v"}, 64 * 1024, 0});
        Reply r = fx.reply(1);
        fx.ack_all();
        auto* e = std::get_if<Rlerror>(&r.body);
        return e == nullptr ? 0 : static_cast<int>(e->ecode);
    };
    for (std::uint32_t fid = 10; fid < 18; ++fid)
        BOOST_TEST(create(fid) == 0);
    BOOST_TEST(create(18) == ENOMEM);
    BOOST_TEST(fx.session->memory() <= config.max_memory);
    // Clunking a fid gives its value's share back (the clunk fails: nothing was written).
    fx.feed(4, Tclunk{10});
    fx.ack_all();
    BOOST_TEST(create(19) == 0);
}

BOOST_AUTO_TEST_CASE(msize_is_capped_so_that_a_request_and_its_reply_fit_the_budget) {
    SessionConfig config;
    config.max_memory = 64 * 1024;  // 32 KiB for buffers
    SessionFx fx(config);
    BOOST_TEST(fx.state.msize == 16u * 1024);
    fx.feed(kNoTag, Tversion{64 * 1024, {kVersion9P2000L}});
    BOOST_TEST(std::get<Rversion>(fx.reply(0).body).msize == 16u * 1024);
}

BOOST_AUTO_TEST_CASE(many_reads_in_flight_complete_out_of_order_by_tag) {
    SessionConfig config;
    config.max_in_flight = 300;
    SessionFx fx(config);
    fx.attach();
    std::string content;
    for (int i = 0; i < 256; ++i)
        content += static_cast<char>('a' + i % 26);
    fx.open_file(2, "f", content);
    for (std::uint16_t i = 0; i < 256; ++i)
        fx.feed(100 + i, Tread{2, i, 1});
    fx.drain();
    BOOST_REQUIRE(fx.state.sent.size() == 256u);
    for (std::size_t i = 0; i < 256; ++i) {
        Reply r = fx.reply(i);
        auto data = std::get<Rread>(r.body).data.bytes;
        BOOST_REQUIRE(data.size() == 1u);
        BOOST_TEST(static_cast<char>(data[0]) == content[r.tag - 100]);
    }
    BOOST_TEST_MESSAGE("requests in flight on one session: " << fx.session->stats().max_in_flight);
    BOOST_TEST(fx.session->stats().max_in_flight >= 256u);
}

// A read placed straight in the reply's room: filled across both pieces,
// short at the end of the file; one that fails there gives its room back
// and is done again into the slot; one dropped (by a Tversion) drops its
// room.
BOOST_AUTO_TEST_CASE(a_read_in_place_fills_its_room_or_gives_it_back) {
    SessionFx fx;
    fx.attach();
    std::string content;
    for (int i = 0; i < 100; ++i)
        content += static_cast<char>('a' + i % 26);
    fx.open_file(2, "f", content);
    fx.state.rooms = true;
    fx.feed(10, Tread{2, 0, 60});
    fx.feed(11, Tread{2, 90, 60});
    fx.drain();
    BOOST_REQUIRE(fx.state.sent.size() == 2u);
    BOOST_TEST(fx.state.in_place == 2);
    for (std::size_t i = 0; i < 2; ++i) {
        const Reply r = fx.reply(i);
        const auto data = std::get<Rread>(r.body).data.bytes;
        const auto expected = std::string_view(content).substr(r.tag == 10 ? 0 : 90, 60);
        BOOST_TEST(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()) ==
                   expected);
    }
    fx.ack_all();

    // Opened for writing only: read_now fails, and so does the read again.
    fx.feed(12, Twalk{1, 3, {{WalkName{"f"}}, 1}});
    fx.feed(13, Tlopen{3, dotl::kWronly});
    fx.ack_all();
    fx.feed(14, Tread{3, 0, 10});
    fx.drain();
    BOOST_REQUIRE(fx.state.sent.size() == 1u);
    BOOST_TEST(std::get<Rlerror>(fx.reply(0).body).ecode == static_cast<std::uint32_t>(EBADF));
    BOOST_TEST(fx.state.unreserved == 1);
    BOOST_TEST(fx.state.in_place == 2);
    fx.ack_all();

    // A Tversion before the read has run: it is dropped, and its room.
    fx.feed(15, Tread{2, 0, 10});
    fx.feed(kNoTag, Tversion{64 * 1024, {kVersion9P2000L}});
    fx.drain();
    BOOST_REQUIRE(fx.state.sent.size() == 1u);
    BOOST_TEST(std::holds_alternative<Rversion>(fx.reply(0).body));
    BOOST_TEST(fx.state.dropped_rooms == 1);
    BOOST_TEST(fx.state.room.empty());
}

BOOST_AUTO_TEST_CASE(a_twrite_whose_data_is_elsewhere_writes_both_pieces_in_order) {
    SessionFx fx;
    fx.attach();
    fx.open_file(2, "f", "");
    const std::string text = "0123456789";
    const auto bytes = std::as_bytes(std::span(text));
    BOOST_TEST(fx.feed_write(10, 2, 0, {bytes.first(4), bytes.subspan(4)}, 10));
    BOOST_TEST(fx.feed_write(11, 2, 10, {bytes.first(3), {}}, 3));  // one piece
    fx.drain();
    BOOST_REQUIRE(fx.state.sent.size() == 2u);
    for (std::size_t i = 0; i < 2; ++i) {
        const Reply r = fx.reply(i);
        BOOST_TEST(std::get<Rwrite>(r.body).count == (r.tag == 10 ? 10u : 3u));
    }
    BOOST_TEST(read_file(fx.dir / "f") == "0123456789012");

    // An xattr's value is taken from both pieces as well.
    fx.ack_all();
    fx.feed(12, Twalk{1, 3, {{WalkName{"f"}}, 1}});
    fx.feed(13, Txattrcreate{3, {"user.v"}, 10, 0});
    BOOST_TEST(fx.feed_write(14, 3, 0, {bytes.first(6), bytes.subspan(6)}, 10));
    fx.feed(15, Tclunk{3});
    BOOST_REQUIRE(fx.state.sent.size() == 4u);
    BOOST_TEST(std::get<Rwrite>(fx.reply(2).body).count == 10u);
    BOOST_REQUIRE(std::holds_alternative<Rclunk>(fx.reply(3).body));
    char value[16] = {};
    BOOST_TEST(::getxattr((fx.dir / "f").c_str(), "user.v", value, sizeof value) == 10);
    BOOST_TEST(std::string_view(value, 10) == text);

    // A count that disagrees with what is elsewhere: the error the whole
    // message would get, and the session goes on.
    fx.ack_all();
    BOOST_TEST(fx.feed_write(16, 2, 0, {bytes, {}}, 11));
    fx.drain();
    BOOST_REQUIRE(fx.state.sent.size() == 1u);
    BOOST_TEST(std::get<Rlerror>(fx.reply(0).body).ecode == static_cast<std::uint32_t>(EPROTO));
    BOOST_TEST(!fx.state.closed);
    BOOST_TEST(read_file(fx.dir / "f") == "0123456789012");
}

BOOST_AUTO_TEST_CASE(undecodable_message_with_a_tag_gets_rlerror_and_without_closes) {
    SessionFx fx;
    fx.attach();
    // A Twalk naming "a/b" (a slash inside a name) is answered, not fatal.
    std::vector<std::byte> buffer(256);
    auto size = encode_request(Request{9, Twalk{1, 2, {{WalkName{"ok"}}, 1}}}, buffer);
    buffer[size - 1] = std::byte{'/'};
    buffer[size - 2] = std::byte{'a'};
    BOOST_TEST(fx.state.sink->on_message({}, std::span(buffer).first(size), {}));
    BOOST_REQUIRE(fx.state.sent.size() == 1u);
    BOOST_TEST(fx.reply(0).tag == 9);
    BOOST_TEST(std::holds_alternative<Rlerror>(fx.reply(0).body));
    BOOST_TEST(!fx.state.closed);
    std::byte short_message[] = {std::byte{3}, std::byte{0}, std::byte{0}};
    fx.state.sink->on_message({}, short_message, {});
    BOOST_TEST(fx.state.closed);
}

BOOST_AUTO_TEST_CASE(a_second_request_with_a_tag_in_flight_closes_the_session) {
    SessionFx fx;
    fx.attach();
    fx.open_file(2, "f", "abc");
    fx.feed(10, Tread{2, 0, 3});
    fx.feed(10, Tread{2, 0, 3});
    BOOST_TEST(fx.state.closed);
}

BOOST_AUTO_TEST_CASE(every_request_is_counted_by_type_with_errors_bytes_and_open_fids) {
    SessionFx fx;
    fx.attach();
    fx.open_file(2, "f", "abcdef");
    fx.feed(10, Tread{2, 0, 4});
    fx.feed(11, Twrite{2, 6, {std::as_bytes(std::span("xy", 2))}});
    fx.feed(12, Tclunk{99});  // EBADF
    fx.drain();
    fx.ack_all();
    const auto report = fx.ops.report(fx.session->open_fids(), fx.session->stats().max_in_flight);
    BOOST_TEST(report.requests == 7u);
    BOOST_TEST(report.errors == 1u);
    BOOST_TEST(report.bytes_read == 4u);
    BOOST_TEST(report.bytes_written == 2u);
    BOOST_TEST(report.open_fids == 2u);
    BOOST_TEST(report.max_in_flight == 3u);  // the read, the write and the clunk
    const std::map<std::string, std::uint64_t> expected{{"attach", 1}, {"clunk", 1},   {"lopen", 1},
                                                        {"read", 1},   {"version", 1}, {"walk", 1},
                                                        {"write", 1}};
    BOOST_TEST((report.ops == expected));
    BOOST_TEST(report.p50_us <= report.p99_us);
    BOOST_TEST(report.max_us < report.p99_us);  // 7 requests: p99 is the slowest one's bucket
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::server::test
