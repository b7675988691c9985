// The reviewer commands against a running gateway (issue 15), every part a separate process on
// loopback: `cellgate run` for il-gw-1, `cellgate send` for the items, and `cellgate quarantine
// list|release|reject` for the reviewer:
//   - a release signed with a key that is no reviewer of il (the root key, the gateway's own
//     signing key) exits 1 and hands nothing over: the item stays held, nothing is audited;
//   - a reviewer's reject (with its reason) exits 0 and prints the gateway's verdict, and the
//     gateway's audit log holds a QUARANTINE_REJECTED record naming the reviewer and reason;
//   - two-person release (issue 17): a reviewer's release of a second held item exits 0 with
//     "1 of 2" and the item stays held (`quarantine show` lists the approval); the same reviewer
//     again exits 1; a second reviewer's release exits 0, its verdict says it was sent, and
//     the audit log names both (an approval record for the first, a release for both).
// No timing assertions: waits are bounded and end on progress.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "bench/lab/deploy/deploy.h"
#include "crypto/keys.h"
#include "gateway/audit/audit.h"
#include "gateway/common/hex.h"
#include "gateway/store/store.h"
#include "gateway/wire/wire.h"
#include "tests/support/temp_dir.h"

namespace cg {
namespace {

using namespace std::chrono_literals;

// Two de-confliction notices outside the agreed border area: il's policy sends them to review
// ("deconfliction-review"), so the gateway holds each one.
constexpr const char* kItemIds[] = {"5e1ec7ed000000000000000000000a01",
                                    "5e1ec7ed000000000000000000000b02"};
std::string notice(const std::string& id) {
  return R"({"id": ")" + id + R"(", "source": "il-src-1",
 "kind": "deconfliction", "precedence": "immediate",
 "created": "2026-11-24T12:40:00Z",
 "banner": {"policy": "cell-2026", "classification": 1, "rel_to": ["IL", "SY", "US"], "tlp": "green"},
 "topics": ["airspace"],
 "area": {"box": [[34.0, 36.0], [34.5, 36.5]]},
 "portions": [
   {"name": "notice", "content_type": "text/plain", "required": true,
    "label": {"policy": "cell-2026", "classification": 1, "rel_to": ["IL", "SY", "US"], "tlp": "green"},
    "body": "Live firing exercise north of the border area, 1400-1600Z."}],
 "attributes": {"notice.serial": "DC-18"}})";
}

struct Hold {
  std::uint64_t id = 0;
  std::string destination, item;
};

class ReviewerCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    deploy::Options o;
    o.dir = dir_.file("cell");
    o.policy_file = std::string(CG_SOURCE_DIR) + "/gateway/policy/examples/il-policy.toml";
    auto c = deploy::create(o);
    ASSERT_TRUE(c.ok()) << c.status().reason();
    cell_ = std::move(*c);
  }
  void TearDown() override {
    if (gateway_) EXPECT_EQ(gateway_->terminate(30'000), 0) << read(dir_.file("gw.log"));
  }

  static std::string read(const std::string& path) {
    auto b = crypto::read_file(path, 8u << 20);
    return b.ok() ? std::string(b->begin(), b->end()) : std::string();
  }
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir_.file(name);
    EXPECT_TRUE(crypto::write_file(
                    path, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}, 0644)
                    .ok());
    return path;
  }

  void start_gateway() {
    auto p =
        deploy::NodeProcess::start(CG_CELLGATE_BINARY, cell_.gateway_config, dir_.file("gw.log"));
    ASSERT_TRUE(p.ok()) << p.status().reason();
    gateway_ = std::move(*p);
    auto up =
        deploy::wait_for_tcp("127.0.0.1:" + std::to_string(cell_.gateway_metrics_port), 60'000);
    ASSERT_TRUE(up.ok()) << up.reason() << "\n" << read(dir_.file("gw.log"));
  }

  struct Run {
    int exit = -1;
    std::string output;  // stdout and stderr
  };
  // Runs the cellgate command as a process to completion (bounded by `limit`).
  Run cellgate(std::vector<std::string> args, std::chrono::seconds limit = 180s) {
    args.insert(args.begin(), CG_CELLGATE_BINARY);
    const std::string out = dir_.file("cmd-" + std::to_string(++commands_) + ".out");
    auto p = deploy::NodeProcess::start_argv(args, out);
    EXPECT_TRUE(p.ok()) << p.status().reason();
    if (!p.ok()) return {};
    const auto until = std::chrono::steady_clock::now() + limit;
    while ((*p)->running() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(10ms);
    if ((*p)->running()) {
      ADD_FAILURE() << "cellgate " << args[1] << " " << args[2] << " did not finish";
      (*p)->kill9();
    }
    return {(*p)->exit_status().value_or(-1), read(out)};
  }

  // `cellgate quarantine list --store ... --json`, parsed.
  std::vector<Hold> holds() {
    const Run r = cellgate({"quarantine", "list", "--store", cell_.gateway_store, "--json"});
    EXPECT_EQ(r.exit, 0) << r.output;
    static const std::regex line(
        R"re(\{"hold":([0-9]+),"held_at":"[^"]*","destination":"([^"]*)",.*"item":"([0-9a-f?]*)")re");
    std::vector<Hold> out;
    std::size_t start = 0;
    for (std::size_t nl; (nl = r.output.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::smatch m;
      const std::string l = r.output.substr(start, nl - start);
      if (!std::regex_search(l, m, line)) continue;
      out.push_back({std::stoull(m[1].str()), m[2].str(), m[3].str()});
    }
    return out;
  }
  // The hold of `item` for destination sy, or nullopt.
  static std::optional<Hold> hold_of(const std::vector<Hold>& hs, const std::string& item) {
    for (const auto& h : hs) {
      if (h.item == item && h.destination == "sy") return h;
    }
    return std::nullopt;
  }

  Run decide(const char* what, std::uint64_t hold, const std::string& key_file,
             const std::string& reason = "") {
    std::vector<std::string> args{
        "quarantine",    what,     "--config", cell_.gateway_config, "--key", key_file,
        "--unencrypted", "--wait", "120",      std::to_string(hold)};
    if (!reason.empty()) {
      args.push_back("--reason");
      args.push_back(reason);
    }
    return cellgate(args);
  }

  // Every record of the gateway's audit log, read next to the running node; the chain must be
  // intact.
  struct Audited {
    schema::AuditEvent event;
    std::string item, reason, detail;
  };
  std::vector<Audited> audit_log() {
    std::vector<Audited> out;
    auto env = store::Env::open({.path = cell_.gateway_store, .read_only = true});
    EXPECT_TRUE(env.ok()) << env.status().reason();
    if (!env.ok()) return out;
    auto report = audit::verify(**env, [&](std::uint64_t, schema::AuditRecord::Reader r) {
      const auto id = r.getItemId();
      out.push_back({r.getEvent(), to_hex({id.begin(), id.size()}),
                     std::string(wire::view(r.getReason())),
                     std::string(wire::view(r.getDetail()))});
    });
    EXPECT_TRUE(report.ok()) << report.status().reason();
    if (report.ok()) EXPECT_FALSE(report->broken_at.has_value()) << report->problem;
    return out;
  }

  testing::TempDir dir_{"cg-reviewer"};
  deploy::Deployment cell_;
  std::unique_ptr<deploy::NodeProcess> gateway_;
  int commands_ = 0;
};

TEST_F(ReviewerCommandsTest, ReleaseAndRejectAgainstARunningGatewayProcess) {
  ASSERT_NO_FATAL_FAILURE(start_gateway());
  ASSERT_EQ(cell_.reviewer_key_files.size(), 3u);  // il/alice, il/bob, il/carol
  const std::string& alice = cell_.reviewer_key_files[0];
  const std::string& bob = cell_.reviewer_key_files[1];

  std::vector<std::string> files;
  for (const char* id : kItemIds) files.push_back(write(std::string(id) + ".json", notice(id)));
  std::vector<std::string> send{"send",          "--json",
                                "--gateway",     cell_.ingest_endpoint,
                                "--gateway-key", cell_.gateway_curve_public,
                                "--key-file",    cell_.dir + "/keys/" + cell_.source_id + ".curve"};
  send.insert(send.end(), files.begin(), files.end());
  const Run sent = cellgate(send);
  ASSERT_EQ(sent.exit, 0) << sent.output;

  // The gateway judges them and holds both (for sy; and for us).
  std::vector<Hold> held;
  for (int i = 0; i < 600; ++i) {
    held = holds();
    if (hold_of(held, kItemIds[0]) && hold_of(held, kItemIds[1])) break;
    std::this_thread::sleep_for(100ms);
  }
  const auto first = hold_of(held, kItemIds[0]);
  const auto second = hold_of(held, kItemIds[1]);
  ASSERT_TRUE(first && second) << "not held:\n" << read(dir_.file("gw.log"));

  // (a) Keys that are no reviewer of il: exit 1, nothing handed over, the item still held.
  for (const std::string& key :
       {cell_.dir + "/keys/root/root-1.sign", cell_.dir + "/keys/il-gw-1.sign"}) {
    const Run r = decide("release", first->id, key);
    EXPECT_EQ(r.exit, 1) << key << "\n" << r.output;
    EXPECT_NE(r.output.find("nothing handed over"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("handed to gateway"), std::string::npos) << r.output;
  }
  EXPECT_TRUE(hold_of(holds(), kItemIds[0])) << "a refused release leaves the item held";
  for (const auto& a : audit_log()) {
    EXPECT_NE(a.event, schema::AuditEvent::QUARANTINE_RELEASED) << a.detail;
    EXPECT_NE(a.event, schema::AuditEvent::REJECTED_INPUT)
        << "nothing reached the gateway: " << a.reason << ": " << a.detail;
  }

  // (b) A reviewer's reject, with its reason: the gateway's verdict, and an audit record.
  const Run rejected = decide("reject", first->id, alice, "firing area not for sy");
  EXPECT_EQ(rejected.exit, 0) << rejected.output << "\n" << read(dir_.file("gw.log"));
  EXPECT_NE(rejected.output.find("handed to gateway il-gw-1"), std::string::npos)
      << rejected.output;
  EXPECT_NE(rejected.output.find("gateway il-gw-1: rejected by reviewer il/alice"),
            std::string::npos)
      << rejected.output;
  EXPECT_FALSE(hold_of(holds(), kItemIds[0])) << "rejected: no longer held";
  bool rejected_audited = false;
  for (const auto& a : audit_log()) {
    if (a.event == schema::AuditEvent::QUARANTINE_REJECTED && a.item == kItemIds[0] &&
        a.detail.find("reviewer il/alice") != std::string::npos &&
        a.detail.find("firing area not for sy") != std::string::npos)
      rejected_audited = true;
  }
  EXPECT_TRUE(rejected_audited) << "no QUARANTINE_REJECTED record naming il/alice";

  // (c) Two-person release of the second held item. bob alone: counted, 1 of 2, still held.
  const std::string& carol = cell_.reviewer_key_files[2];
  const Run approved = decide("release", second->id, bob);
  EXPECT_EQ(approved.exit, 0) << approved.output << "\n" << read(dir_.file("gw.log"));
  EXPECT_NE(approved.output.find("approval by il/bob counted: reviewers il/bob (1 of 2)"),
            std::string::npos)
      << approved.output;
  EXPECT_TRUE(hold_of(holds(), kItemIds[1])) << "one reviewer alone does not release";
  const Run shown =
      cellgate({"quarantine", "show", "--store", cell_.gateway_store, std::to_string(second->id)});
  EXPECT_EQ(shown.exit, 0) << shown.output;
  EXPECT_NE(shown.output.find("approvals: 1 of 2 (il/bob)"), std::string::npos) << shown.output;
  // bob again: a reviewer counts once (refused here, nothing handed over).
  const Run twice = decide("release", second->id, bob);
  EXPECT_EQ(twice.exit, 1) << twice.output;
  EXPECT_NE(twice.output.find("counts once"), std::string::npos) << twice.output;
  EXPECT_TRUE(hold_of(holds(), kItemIds[1]));
  // carol: 2 of 2, sent.
  const Run released = decide("release", second->id, carol);
  EXPECT_EQ(released.exit, 0) << released.output << "\n" << read(dir_.file("gw.log"));
  EXPECT_NE(released.output.find("gateway il-gw-1: released by reviewers il/bob il/carol (2 of 2)"),
            std::string::npos)
      << released.output;
  EXPECT_NE(released.output.find("handed to the release guard for sy"), std::string::npos)
      << released.output;
  EXPECT_FALSE(hold_of(holds(), kItemIds[1])) << "released: no longer held";
  bool released_audited = false, approval_audited = false;
  for (const auto& a : audit_log()) {
    if (a.event == schema::AuditEvent::QUARANTINE_APPROVED && a.item == kItemIds[1] &&
        a.detail.find("il/bob (1 of 2)") != std::string::npos)
      approval_audited = true;
    if (a.event == schema::AuditEvent::QUARANTINE_RELEASED && a.item == kItemIds[1] &&
        a.detail.find("reviewers il/bob il/carol (2 of 2)") != std::string::npos)
      released_audited = true;
    EXPECT_FALSE(a.event == schema::AuditEvent::QUARANTINE_RELEASED && a.item == kItemIds[0])
        << "the rejected item was released";
  }
  EXPECT_TRUE(approval_audited) << "no QUARANTINE_APPROVED record naming il/bob";
  EXPECT_TRUE(released_audited) << "no QUARANTINE_RELEASED record naming il/bob and il/carol";

  ASSERT_TRUE(gateway_->running()) << "the gateway keeps running\n" << read(dir_.file("gw.log"));
}

}  // namespace
}  // namespace cg
