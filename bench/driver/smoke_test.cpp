// Runs xen9p-bench in its smoke mode against every target (direct syscalls,
// xen9pd over the simulated rings and over a unix socket, diod): it must
// succeed, and its JSON must be well-formed and carry every workload of each
// and the many-guests runs.
#define BOOST_TEST_MODULE bench_smoke
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

// A strict recursive-descent check of RFC 8259 syntax (values are not kept).
class JsonChecker {
  public:
    explicit JsonChecker(std::string_view text) : text_(text) {}

    bool document() {
        if (!value()) return false;
        space();
        return pos_ == text_.size();
    }

  private:
    void space() {
        while (pos_ < text_.size() && std::strchr(" \t\r\n", text_[pos_]) != nullptr)
            ++pos_;
    }
    bool eat(char c) {
        space();
        if (pos_ < text_.size() && text_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    bool literal(std::string_view word) {
        if (text_.substr(pos_, word.size()) != word) return false;
        pos_ += word.size();
        return true;
    }
    bool string() {
        if (!eat('"')) return false;
        while (pos_ < text_.size()) {
            char c = text_[pos_++];
            if (c == '"') return true;
            if (static_cast<unsigned char>(c) < 0x20) return false;
            if (c == '\\') {
                if (pos_ >= text_.size()) return false;
                char e = text_[pos_++];
                if (e == 'u') {
                    for (int i = 0; i < 4; ++i) {
                        if (pos_ >= text_.size() || !std::isxdigit(text_[pos_++])) return false;
                    }
                } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
                    return false;
                }
            }
        }
        return false;
    }
    bool digits() {
        std::size_t start = pos_;
        while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_])))
            ++pos_;
        return pos_ > start;
    }
    bool number() {
        if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
        if (!digits()) return false;
        if (pos_ < text_.size() && text_[pos_] == '.' && (++pos_, !digits())) return false;
        if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
            ++pos_;
            if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
            if (!digits()) return false;
        }
        return true;
    }
    bool value() {
        space();
        if (pos_ >= text_.size()) return false;
        char c = text_[pos_];
        if (c == '{') return members('}', true);
        if (c == '[') return members(']', false);
        if (c == '"') return string();
        if (c == 't') return literal("true");
        if (c == 'f') return literal("false");
        if (c == 'n') return literal("null");
        return number();
    }
    bool members(char close, bool object) {
        ++pos_;
        if (eat(close)) return true;
        do {
            if (object && !(string() && eat(':'))) return false;
            if (!value()) return false;
        } while (eat(','));
        return eat(close);
    }

    std::string_view text_;
    std::size_t pos_ = 0;
};

struct TempDir {
    TempDir() {
        char pattern[] = "/tmp/xen9p-bench-smoke.XXXXXX";
        BOOST_REQUIRE(::mkdtemp(pattern) != nullptr);
        path = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string path;
};

int run_bench(const std::string& out) {
    pid_t pid = ::fork();
    if (pid == 0) {
        ::execl(XEN9P_BENCH_BINARY, XEN9P_BENCH_BINARY, "--smoke", "--out", out.c_str(),
                static_cast<char*>(nullptr));
        ::_exit(127);
    }
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

BOOST_AUTO_TEST_CASE(json_checker_refuses_malformed_documents) {
    BOOST_TEST(JsonChecker(R"({"a": [1, 2.5e3, "x\n", true, null]})").document());
    BOOST_TEST(!JsonChecker(R"({"a": [1, 2,]})").document());
    BOOST_TEST(!JsonChecker(R"({"a": 1} x)").document());
    BOOST_TEST(!JsonChecker(R"({"a": "unterminated})").document());
}

BOOST_AUTO_TEST_CASE(smoke_run_writes_wellformed_json_with_every_workload) {
    TempDir dir;
    BOOST_REQUIRE_EQUAL(run_bench(dir.path), 0);
    std::string json = slurp(dir.path + "/results.json");
    BOOST_TEST(JsonChecker(json).document());
    BOOST_TEST(json.find("\"error\"") == std::string::npos);
    for (std::string target : {"direct", "xen9pd-ring", "xen9pd-unix", "diod-unix"}) {
        for (std::string workload :
             {"seq_read", "seq_write", "rand_read_4k_qd32", "rand_write_4k_qd1", "create_close",
              "getattr", "getattr_bursts", "unlink", "walk_5_levels", "readdir",
              "small_files_write", "small_files_read", "parallel_read_x2", "readdir_1e2",
              "walk_in_1e2", "create_in_1e2", "walk_depth_1", "walk_depth_20"}) {
            auto entry = "{\"workload\": \"" + workload + "\", \"target\": \"" + target + "\"";
            BOOST_TEST(json.find(entry) != std::string::npos, workload << " on " << target);
        }
    }
    // The ring's CPU is its servers' (a device's keeper forks the server that
    // does the work): 50 ms of getattrs cost them measurable time.
    const auto getattr_ring = json.find("{\"workload\": \"getattr\", \"target\": \"xen9pd-ring\"");
    BOOST_REQUIRE(getattr_ring != std::string::npos);
    const auto line = json.substr(getattr_ring, json.find('}', getattr_ring) - getattr_ring);
    const auto cpu = line.find("\"server_cpu_us_per_op\": ");
    BOOST_REQUIRE(cpu != std::string::npos);
    BOOST_TEST(std::strtod(line.c_str() + cpu + 24, nullptr) > 0);
    BOOST_TEST(json.find("\"idle_cpu_ms_per_s\": {\"xen9pd-ring\": ") != std::string::npos);
    std::string table = slurp(dir.path + "/results.md");
    BOOST_TEST(table.find("| xen9pd-ring / diod-unix |") != std::string::npos);
    BOOST_TEST(table.find("| xen9pd-unix / direct |") != std::string::npos);
    BOOST_TEST(table.find("memcpy bandwidth") != std::string::npos);
    BOOST_TEST(table.find("| server CPU per op (µs) |") != std::string::npos);
    BOOST_TEST(table.find("| seq_read xen9pd-ring / direct | ") != std::string::npos);
    BOOST_TEST(json.find("{\"goal\": \"getattr xen9pd-ring / diod-unix\", \"ratio\": ") !=
               std::string::npos);
    BOOST_TEST(!slurp(dir.path + "/plot.dat").empty());
    // Only one directory size in smoke mode: the depths' block alone.
    BOOST_TEST(slurp(dir.path + "/scaling.dat").starts_with("walk_depth direct xen9pd-ring"));
    BOOST_TEST(table.find("| walk of that many components (µs per op) | 1 | 20 |") !=
               std::string::npos);
    // Many guests: smoke mode runs a fleet of 1 and of 2, each measured.
    for (std::string guests : {"1", "2"}) {
        const auto at = json.find("{\"guests\": " + guests + ", \"attach_s\": ");
        BOOST_REQUIRE_MESSAGE(at != std::string::npos, guests << " guests");
        const auto point = json.substr(at, json.find('}', at) - at);
        for (std::string field :
             {"attach_s", "supervisor_idle_rss_kib", "worker_idle_rss_kib", "workers_idle_pss_kib",
              "seq_read_mib_s", "rand_read_ops_s", "light_solo_p99_us"}) {
            const auto key = point.find("\"" + field + "\": ");
            BOOST_REQUIRE_MESSAGE(key != std::string::npos, field);
            BOOST_TEST(std::strtod(point.c_str() + key + field.size() + 4, nullptr) > 0,
                       field << " with " << guests << " guests");
        }
    }
    BOOST_TEST(json.find("{\"goal\": \"largest idle worker VmRSS (MiB)\", \"value\": ") !=
               std::string::npos);
    BOOST_TEST(table.find("| guests (xen9pd-ring) | attach all (s) |") != std::string::npos);
    BOOST_TEST(slurp(dir.path + "/fleet.dat").starts_with("guests attach_s "));
}
