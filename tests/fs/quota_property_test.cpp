// Property test of the max-files / max-space accounting (issue 15): random
// sequences of operations, from fixed seeds, and after every step the counters
// must equal an independent recount of the export (usage_recount.hpp).
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "backend/fs/attr.hpp"
#include "backend/fs/entries.hpp"
#include "backend/fs/open_file.hpp"
#include "backend/fs/xattr.hpp"
#include "p9proto/constants.hpp"
#include "p9proto/open_flags.hpp"
#include "tests/fs/fs_fixture.hpp"
#include "tests/fs/usage_recount.hpp"

using namespace xen9p;
using namespace xen9p::fs;
using namespace xen9p::fs::test;
namespace dotl = xen9p::p9proto::dotl;

namespace {

// Few names, so that operations often meet: renames over existing entries,
// links into directories that exist, rmdir of non-empty ones.
constexpr std::array<const char*, 5> kNames = {"a", "b", "c", "d", "e"};

ExportConfig tracked(SecurityModel model) {
    ExportConfig cfg;
    cfg.model = model;
    cfg.limits.max_files = 1u << 30;  // limits far away: counting is under test
    cfg.limits.max_space_mib = 1u << 30;
    return cfg;
}

class Run {
  public:
    Run(unsigned seed, SecurityModel model) : rng_(seed), model_(model), fx_(tracked(model)) {}

    void step(int n) {
        // create, mkdir, symlink, mkfifo, unlink, rmdir, rename, link, open,
        // write, truncate, close, setxattr, remove while walked, forget a
        // walked fid, restart
        static const std::vector<double> weights = {4, 3, 2, 1, 3, 2, 3,   5,
                                                    3, 8, 2, 2, 1, 3, 1.5, 0.4};
        int op = std::discrete_distribution<int>(weights.begin(), weights.end())(rng_);
        std::string what = apply(op);
        log_ << n << ": " << what << "\n";
        // Every descriptor of ours that may keep an unlinked inode alive: open
        // files, the O_PATH fds of nodes and the parent fds nodes keep.
        std::vector<int> fds;
        for (const auto& h : held_) {
            fds.push_back(h.file.fd());
            fds.push_back(h.node.fd());
            if (h.node.parent_fd() >= 0) fds.push_back(h.node.parent_fd());
        }
        for (const auto& node : walked_) {
            fds.push_back(node.fd());
            if (node.parent_fd() >= 0) fds.push_back(node.parent_fd());
        }
        Usage expected = recount(fx_.host(""), fds);
        Usage got{ex().limits().files(), ex().limits().bytes()};
        BOOST_REQUIRE_MESSAGE(ex().limits().reserved() == 0, "a write's bound outlived it");
        BOOST_REQUIRE_MESSAGE(got == expected, "counted " << got << ", recounted " << expected
                                                          << " after:\n"
                                                          << log_.str());
    }

  private:
    struct Held {
        Node node;
        OpenFile file;
    };

    Export& ex() { return restarted_ ? *restarted_ : fx_.ex; }
    Node root() { return restarted_ ? must(restarted_->root()) : fx_.root.clone(); }

    int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
    std::string name() { return kNames[static_cast<std::size_t>(pick(kNames.size()))]; }
    // A random path of depth 0 to 2 ("" is the root), mostly shallow.
    std::string path() {
        int depth = pick(8);
        depth = depth < 4 ? 0 : depth < 7 ? 1 : 2;
        std::string p;
        for (; depth > 0; --depth)
            p += (p.empty() ? "" : "/") + name();
        return p;
    }
    std::optional<Node> walk(const std::string& rel) {
        Node cur = root();
        std::string_view rest = rel;
        while (!rest.empty()) {
            auto slash = rest.find('/');
            auto next = walk_one(ex(), fx_.me, cur, rest.substr(0, slash));
            if (!next) return std::nullopt;
            cur = std::move(*next);
            rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
        }
        return cur;
    }
    static std::string outcome(const Status& s) {
        return s ? " ok" : " err " + std::to_string(s.error().value);
    }
    template <class T>
    static std::string outcome(const Result<T>& r) {
        return r ? " ok" : " err " + std::to_string(r.error().value);
    }

    std::string apply(int op) {
        std::string dir = path();
        std::string n = name();
        std::string where = dir.empty() ? n : dir + "/" + n;
        auto parent = walk(dir);
        if (!parent) return "skip (no " + dir + ")";
        switch (op) {
            case 0: {
                auto c = create_file(ex(), fx_.me, *parent, n, dotl::kRdwr, 0644, 0);
                std::string r = "create " + where + outcome(c);
                if (c && pick(2) == 0)
                    held_.push_back(Held{std::move(c->node), std::move(c->file)});
                return r;
            }
            case 1:
                return "mkdir " + where + outcome(make_dir(ex(), fx_.me, *parent, n, 0755, 0));
            case 2: {
                std::string target(static_cast<std::size_t>(1 + pick(3000)), 's');
                return "symlink " + where + " (" + std::to_string(target.size()) + ")" +
                       outcome(make_symlink(ex(), fx_.me, *parent, n, target, 0));
            }
            case 3:
                return "mkfifo " + where +
                       outcome(make_node(ex(), fx_.me, *parent, n, S_IFIFO | 0644, 0, 0, 0));
            case 4:
                return "unlink " + where + outcome(unlink_at(ex(), fx_.me, *parent, n, 0));
            case 5:
                return "rmdir " + where +
                       outcome(unlink_at(ex(), fx_.me, *parent, n, p9proto::kAtRemoveDir));
            case 6: {
                std::string to_dir = path();
                std::string to = name();
                auto other = walk(to_dir);
                if (!other) return "skip (no " + to_dir + ")";
                return "rename " + where + " -> " + to_dir + "/" + to +
                       outcome(rename_at(ex(), fx_.me, *parent, n, *other, to));
            }
            case 7: {
                std::string from = path();
                auto target = walk(from.empty() ? name() : from + "/" + name());
                if (!target) return "skip (no link target)";
                return "link " + where + outcome(make_link(ex(), fx_.me, *parent, *target, n));
            }
            case 8: {
                auto node = walk(where);
                if (!node) return "skip (no " + where + ")";
                struct stat st {};
                BOOST_REQUIRE(::fstatat(node->fd(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) ==
                              0);
                auto flags = S_ISDIR(st.st_mode) ? dotl::kRdonly : dotl::kRdwr;
                auto o = open_node(ex(), fx_.me, *node, flags);
                std::string r = "open " + where + outcome(o);
                if (o) held_.push_back(Held{std::move(*node), std::move(o->file)});
                return r;
            }
            case 9:
            case 10: {
                if (!walked_.empty() && pick(3) == 0) return truncate_walked();
                if (held_.empty()) return "skip (nothing open)";
                Held& h = held_[static_cast<std::size_t>(pick(static_cast<int>(held_.size())))];
                if ((h.file.flags() & O_ACCMODE) == O_RDONLY) return "skip (read-only)";
                std::uint64_t offset = static_cast<std::uint64_t>(pick(256 * 1024));
                std::size_t length = static_cast<std::size_t>(1 + pick(48 * 1024));
                if (op == 10) {
                    p9proto::Tsetattr req;
                    req.valid = p9proto::setattr::kSize;
                    req.size = offset;
                    return "truncate " + std::to_string(offset) +
                           outcome(setattr(ex(), fx_.me, h.node, &h.file, req));
                }
                auto s = prepare_write(ex(), h.file, offset, length);
                if (!s) return "write" + outcome(s);
                std::string data(length, 'w');
                BOOST_REQUIRE(::pwrite(h.file.fd(), data.data(), length,
                                       static_cast<off_t>(offset)) == static_cast<ssize_t>(length));
                // ext4 adds extent-tree blocks at writeback: let them land now,
                // so the recount sees what a later measurement would.
                BOOST_REQUIRE(::fdatasync(h.file.fd()) == 0);
                finish_write(ex(), h.file);
                return "write " + std::to_string(offset) + "+" + std::to_string(length);
            }
            case 11: {
                if (held_.empty()) return "skip (nothing open)";
                held_.erase(held_.begin() + pick(static_cast<int>(held_.size())));
                return "close";
            }
            case 12: {
                auto node = walk(where);
                if (!node) return "skip (no " + where + ")";
                std::vector<std::byte> value(static_cast<std::size_t>(pick(3000)), std::byte{'x'});
                return "setxattr " + where + " (" + std::to_string(value.size()) + ")" +
                       outcome(xattr_set(ex(), fx_.me, *node, "user.q" + n, value, 0));
            }
            case 13: {
                // A fid walked to an entry (never opened), and maybe a clone of
                // it (Twalk with no names), hold the inode while it is removed:
                // by name or through the fid itself (Tremove).
                auto node = walk(where);
                if (!node) return "skip (no " + where + ")";
                struct stat st {};
                BOOST_REQUIRE(::fstatat(node->fd(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) ==
                              0);
                if (pick(3) == 0) walked_.push_back(node->clone());
                std::string r;
                if (pick(2) == 0) {
                    r = "remove walked " + where + outcome(remove_node(ex(), fx_.me, *node));
                } else {
                    std::uint32_t flags = S_ISDIR(st.st_mode) ? p9proto::kAtRemoveDir : 0;
                    r = "unlink walked " + where +
                        outcome(unlink_at(ex(), fx_.me, *parent, n, flags));
                }
                walked_.push_back(std::move(*node));
                return r;
            }
            case 14: {
                if (walked_.empty()) return "skip (nothing walked)";
                walked_.erase(walked_.begin() + pick(static_cast<int>(walked_.size())));
                return "forget walked";
            }
            default: {
                // A new worker: everything closes, the export is scanned afresh
                // (every Node, `parent` too, goes before the export it came from).
                parent.reset();
                walked_.clear();
                held_.clear();
                restarted_.reset();
                restarted_.emplace(must(Export::open(fx_.host(""), tracked(model_))));
                return "restart";
            }
        }
    }

    // Truncates (Tsetattr on a fid never opened) a walked regular file.
    std::string truncate_walked() {
        const Node& node =
            walked_[static_cast<std::size_t>(pick(static_cast<int>(walked_.size())))];
        struct stat st {};
        BOOST_REQUIRE(::fstatat(node.fd(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0);
        if (!S_ISREG(st.st_mode)) return "skip (walked is no file)";
        p9proto::Tsetattr req;
        req.valid = p9proto::setattr::kSize;
        req.size = static_cast<std::uint64_t>(pick(static_cast<int>(st.st_size) + 1));
        return "truncate walked " + std::to_string(req.size) +
               outcome(setattr(ex(), fx_.me, node, nullptr, req));
    }

    std::mt19937 rng_;
    SecurityModel model_;
    Fx fx_;
    std::optional<Export> restarted_;
    std::vector<Held> held_;
    std::vector<Node> walked_;  // fids walked and never opened
    std::ostringstream log_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(quota_property)

BOOST_AUTO_TEST_CASE(counters_equal_a_recount_after_every_step_of_random_sequences) {
    for (SecurityModel model : {SecurityModel::kNone, SecurityModel::kMappedXattr}) {
        for (unsigned seed : {1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u}) {
            BOOST_TEST_CONTEXT("model " << security_model_name(model) << " seed " << seed) {
                Run run(seed, model);
                for (int n = 0; n < 400; ++n)
                    run.step(n);
            }
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
