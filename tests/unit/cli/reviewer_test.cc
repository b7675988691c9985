// The reviewer's workflow through the CLI functions, as an operator runs it: keys, a trust
// root signed by 2 root keys, a bundle approved by 2 of 3 reviewers, a change with its diff
// and its impact on a corpus, an explanation.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "crypto/keys.h"
#include "crypto/suite.h"
#include "gateway/approval/approval.h"
#include "gateway/cli/cli.h"
#include "tests/support/temp_dir.h"

namespace cg::cli {
namespace {

void write(const std::string& path, std::string_view text) { std::ofstream(path) << text; }

std::string read(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::string replace(std::string s, std::string_view from, std::string_view to) {
  auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}

class ReviewerTest : public ::testing::Test {
 protected:
  KeyOptions key(const std::string& name) {
    return {.key_file = dir_.file(name + ".sign"), .passphrase_file = "", .unencrypted = true};
  }
  void keygen_for(const std::string& name) {
    KeygenOptions o;
    o.node = name;
    o.dir = dir_.path();
    o.keys.unencrypted = true;
    ASSERT_EQ(keygen(o), exit_ok);
  }
  std::string captured_err(const std::function<int()>& f, int& rc) {
    ::testing::internal::CaptureStderr();
    rc = f();
    return ::testing::internal::GetCapturedStderr();
  }
  int captured(const std::function<int()>& f, std::string& out) {
    ::testing::internal::CaptureStdout();
    const int rc = f();
    out = ::testing::internal::GetCapturedStdout();
    return rc;
  }
  // Keys for root1, root2, alice, bob, carol (il's reviewers, 2 of 3) and il-gw-1, and the
  // trust root they make, signed by both root keys.
  std::string signed_root() {
    for (const char* n : {"root1", "root2", "alice", "bob", "carol", "il-gw-1"}) keygen_for(n);
    write(dir_.file("trust.toml"), R"(version = 1
expires = "2099-01-01T00:00:00Z"
root_threshold = 2
[[root_key]]
name = "root/1"
key = "root1.sign.pub"
[[root_key]]
name = "root/2"
key = "root2.sign.pub"
[[party]]
id = "il"
reviewer_threshold = 2
[[party.reviewer]]
name = "il/alice"
key = "alice.sign.pub"
[[party.reviewer]]
name = "il/bob"
key = "bob.sign.pub"
[[party.reviewer]]
name = "il/carol"
key = "carol.sign.pub"
[[node]]
id = "il-gw-1"
party = "il"
role = "gateway"
signing_key = "il-gw-1.sign.pub"
agreement_key = "il-gw-1.kx.pub"
)");
    const std::string root = dir_.file("root.bin");
    EXPECT_EQ(trust_create(dir_.file("trust.toml"), root), exit_ok);
    EXPECT_EQ(trust_verify(root, ""), exit_failed) << "unsigned root must not be accepted";
    EXPECT_EQ(trust_sign(root, key("root1"), ""), exit_ok);
    EXPECT_EQ(trust_verify(root, ""), exit_failed) << "1 of 2 root signatures";
    EXPECT_EQ(trust_sign(root, key("root2"), ""), exit_ok);
    EXPECT_EQ(trust_verify(root, ""), exit_ok);
    return root;
  }
  testing::TempDir dir_{"cg-reviewer"};
};

TEST_F(ReviewerTest, ProposeApproveVerifyDiffImpactExplain) {
  const std::string root = signed_root();
  const std::string policy_v1 =
      std::string(CG_SOURCE_DIR) + "/gateway/policy/examples/il-policy.toml";
  RulesProposeOptions p;
  p.policy = policy_v1;
  p.out = dir_.file("v1.bundle");
  ASSERT_EQ(rules_propose(p), exit_ok);
  std::string out;
  EXPECT_EQ(captured([&] { return rules_verify(p.out, root); }, out), exit_failed);
  EXPECT_NE(out.find("0 of 2"), std::string::npos) << out;
  ASSERT_EQ(rules_approve(p.out, key("alice"), root, ""), exit_ok);
  EXPECT_EQ(rules_approve(p.out, key("alice"), root, ""), exit_failed) << "same reviewer twice";
  ASSERT_EQ(rules_approve(p.out, key("carol"), root, ""), exit_ok);
  EXPECT_EQ(captured([&] { return rules_verify(p.out, root); }, out), exit_ok);
  EXPECT_NE(out.find("2 of 2 required signatures: threshold met"), std::string::npos) << out;
  EXPECT_NE(out.find("il/alice: counted"), std::string::npos) << out;

  // v2: only TLP:CLEAR incident reports are released any more.
  const std::string v2_text =
      replace(read(policy_v1),
              "kind = [\"incident\"]\ntlp = [\"clear\", \"green\", \"amber\", \"amber+strict\"]",
              "kind = [\"incident\"]\ntlp = [\"clear\"]");
  write(dir_.file("v2.toml"), v2_text);
  RulesProposeOptions p2;
  p2.policy = dir_.file("v2.toml");
  p2.previous = p.out;
  p2.out = dir_.file("v2.bundle");
  ASSERT_EQ(rules_propose(p2), exit_ok);
  EXPECT_EQ(captured([&] { return rules_diff(p.out, p2.out); }, out), exit_failed);
  EXPECT_NE(out.find("~ rule incident-reports"), std::string::npos) << out;
  EXPECT_NE(out.find("1 change"), std::string::npos) << out;
  EXPECT_EQ(rules_diff(p.out, p.out), exit_ok);

  std::filesystem::create_directories(dir_.file("items"));
  write(dir_.file("items/incident.json"),
        R"({"id": "00112233445566778899aabbccddeeff", "source": "il-ops-1",
 "kind": "incident", "precedence": "immediate", "created": "2026-11-24T12:30:05Z",
 "banner": {"policy": "cell-2026", "classification": 0, "tlp": "green"},
 "portions": [{"name": "account", "content_type": "text/plain", "required": true,
   "label": {"policy": "cell-2026", "classification": 0, "tlp": "green"},
   "body": "Rocket fragment found near the fence; no injuries."}]})");
  write(dir_.file("items/economic.json"),
        R"({"id": "00112233445566778899aabbccddee00", "source": "il-econ-1",
 "kind": "economic", "precedence": "routine", "created": "2026-11-24T12:30:05Z",
 "banner": {"policy": "cell-2026", "classification": 0, "tlp": "green"},
 "portions": [{"name": "proposal", "content_type": "text/plain",
   "label": {"policy": "cell-2026", "classification": 0, "tlp": "green"},
   "body": "Proposal: reopen the crossing for produce on weekdays."}]})");
  EXPECT_EQ(captured([&] { return rules_impact(p.out, p2.out, dir_.file("items")); }, out),
            exit_failed);
  EXPECT_NE(out.find("2 items x 2 destinations: 4 decisions, 2 changed"), std::string::npos) << out;
  EXPECT_NE(out.find("old: release by incident-reports"), std::string::npos) << out;
  EXPECT_NE(out.find("new: block by (none) (no_rule)"), std::string::npos) << out;
  // The same for a script: one object per changed decision, each line valid JSON, then the
  // summary; no progress line (stderr is not a terminal here, and --json never draws it).
  EXPECT_EQ(captured([&] { return rules_impact(p.out, p2.out, dir_.file("items"), true); }, out),
            exit_failed);
  {
    simdjson::dom::parser parser;
    std::vector<std::string> lines;
    for (std::size_t start = 0, nl; (nl = out.find('\n', start)) != std::string::npos;
         start = nl + 1) {
      lines.push_back(out.substr(start, nl - start));
    }
    ASSERT_EQ(lines.size(), 3u) << out;
    for (const auto& l : lines) {
      simdjson::dom::element e;
      EXPECT_EQ(parser.parse(l).get(e), simdjson::SUCCESS) << l;
    }
    EXPECT_NE(lines[0].find(R"("item":"00112233445566778899aabbccddeeff","destination":")"),
              std::string::npos)
        << lines[0];
    EXPECT_NE(lines[0].find(R"("outcome":"release")"), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find(R"("reason":"no_rule")"), std::string::npos) << lines[0];
    EXPECT_EQ(lines[2], R"({"items":2,"destinations":2,"decisions":4,"changed":2,"unreadable":0})");
  }

  EXPECT_EQ(
      captured([&] { return policy_explain(p.out, dir_.file("items/economic.json"), "sy", false); },
               out),
      exit_ok);
  EXPECT_NE(out.find("economic-proposals"), std::string::npos) << out;
  EXPECT_EQ(policy_explain(p.out, dir_.file("items/economic.json"), "nowhere", false), exit_usage);
}

TEST_F(ReviewerTest, KeygenRefusesClearKeysWithoutTheFlagAndEncryptsWithAPassphrase) {
  KeygenOptions o;
  o.node = "n1";
  o.dir = dir_.path();
  EXPECT_EQ(keygen(o), exit_usage);
  write(dir_.file("pass"), "a long passphrase\n");
  o.keys.passphrase_file = dir_.file("pass");
  o.suite = "cnsa";
  ASSERT_EQ(keygen(o), exit_ok);
  KeyOptions k{.key_file = dir_.file("n1.sign"), .passphrase_file = "", .unencrypted = true};
  write(dir_.file("r.toml"),
        "version = 1\nexpires = \"2099-01-01T00:00:00Z\"\n[[root_key]]\nname = \"r\"\nkey = "
        "\"n1.sign.pub\"\n");
  ASSERT_EQ(trust_create(dir_.file("r.toml"), dir_.file("r.bin")), exit_ok);
  EXPECT_NE(trust_sign(dir_.file("r.bin"), k, ""), exit_ok)
      << "encrypted key used without passphrase";
  k.passphrase_file = dir_.file("pass");
  k.unencrypted = false;
  EXPECT_EQ(trust_sign(dir_.file("r.bin"), k, ""), exit_ok);
  EXPECT_EQ(trust_verify(dir_.file("r.bin"), ""), exit_ok);
}

// A key that is not a reviewer of the bundle's party (a root key, a node key) signs nothing:
// its signature would never count. The bundle file is unchanged.
TEST_F(ReviewerTest, ApproveRefusesKeysThatAreNotReviewersOfTheParty) {
  const std::string root = signed_root();
  RulesProposeOptions p;
  p.policy = std::string(CG_SOURCE_DIR) + "/gateway/policy/examples/il-policy.toml";
  p.out = dir_.file("v1.bundle");
  ASSERT_EQ(rules_propose(p), exit_ok);
  const std::string before = read(p.out);
  for (const char* k : {"root1", "il-gw-1"}) {
    int rc = 0;
    const std::string err =
        captured_err([&] { return rules_approve(p.out, key(k), root, ""); }, rc);
    EXPECT_EQ(rc, exit_failed) << k;
    EXPECT_NE(err.find("is not a reviewer of party 'il'"), std::string::npos) << err;
    EXPECT_NE(err.find("would never count"), std::string::npos) << err;
    EXPECT_EQ(read(p.out), before) << k << ": nothing written";
  }
  int rc = 0;
  EXPECT_NE(captured_err([&] { return rules_approve(p.out, key("root1"), root, ""); }, rc)
                .find("root key 'root/1'"),
            std::string::npos);
  EXPECT_EQ(rules_approve(p.out, key("alice"), root, dir_.file("out.bundle")), exit_ok);
  EXPECT_EQ(read(p.out), before) << "--out leaves the input as it was";
}

// `rules verify` applies the node's time checks: a bundle created in the future (beyond the
// tolerated skew) is NOT approved, as a node would refuse it.
TEST_F(ReviewerTest, VerifyRefusesABundleCreatedInTheFutureAsTheNodeDoes) {
  const std::string root = signed_root();
  const approval::SuiteVerifier verifier(crypto::modern_suite());
  const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  const std::int64_t day = 86'400LL * 1'000'000'000;
  auto b = approval::propose(
      "il", read(std::string(CG_SOURCE_DIR) + "/gateway/policy/examples/il-policy.toml"), nullptr,
      now + day, now + 30 * day, verifier);
  ASSERT_TRUE(b.ok()) << b.status().reason();
  const auto bytes = wire::to_flat_bytes(*b);
  ASSERT_TRUE(crypto::write_file(dir_.file("future.bundle"), bytes, 0644).ok());
  ASSERT_EQ(rules_approve(dir_.file("future.bundle"), key("alice"), root, ""), exit_ok);
  ASSERT_EQ(rules_approve(dir_.file("future.bundle"), key("bob"), root, ""), exit_ok);
  std::string out;
  EXPECT_EQ(captured([&] { return rules_verify(dir_.file("future.bundle"), root); }, out),
            exit_failed);
  EXPECT_NE(out.find("threshold met"), std::string::npos) << out;
  EXPECT_NE(out.find("created in the future"), std::string::npos) << out;
  EXPECT_NE(out.find("NOT approved"), std::string::npos) << out;
}

// No command writes over an existing file unless --force; secret files are created 0600; a
// symbolic link at the path is refused even with --force and what it points to is untouched.
TEST_F(ReviewerTest, NoCommandOverwritesAFileWithoutForce) {
  const std::string root = signed_root();
  int rc = 0;
  // curve keygen: an existing 0644 file is neither replaced nor given its mode.
  write(dir_.file("c.key"), "precious\n");
  ::chmod(dir_.file("c.key").c_str(), 0644);
  std::string err = captured_err([&] { return curve_keygen(dir_.file("c.key")); }, rc);
  EXPECT_EQ(rc, exit_failed);
  EXPECT_NE(err.find(dir_.file("c.key")), std::string::npos) << err;
  EXPECT_NE(err.find("--force"), std::string::npos) << err;
  EXPECT_EQ(read(dir_.file("c.key")), "precious\n");
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(curve_keygen(dir_.file("c.key"), true), exit_ok);
  ::testing::internal::GetCapturedStdout();
  struct stat st {};
  ASSERT_EQ(::stat(dir_.file("c.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "replaced with --force: still 0600";
  EXPECT_NE(read(dir_.file("c.key")), "precious\n");
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(curve_keygen(dir_.file("new.key")), exit_ok);
  ::testing::internal::GetCapturedStdout();
  ASSERT_EQ(::stat(dir_.file("new.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // A symbolic link: refused, with or without --force; its target is untouched.
  write(dir_.file("target"), "target\n");
  ASSERT_EQ(::symlink(dir_.file("target").c_str(), dir_.file("link.key").c_str()), 0);
  ASSERT_EQ(::symlink(dir_.file("nowhere").c_str(), dir_.file("dangling.key").c_str()), 0);
  for (bool force : {false, true}) {
    ::testing::internal::CaptureStdout();
    EXPECT_EQ(curve_keygen(dir_.file("link.key"), force), exit_failed) << force;
    EXPECT_EQ(curve_keygen(dir_.file("dangling.key"), force), exit_failed) << force;
    ::testing::internal::GetCapturedStdout();
    KeygenOptions link;
    link.link = true;
    link.out = dir_.file("link.key");
    link.force = force;
    ::testing::internal::CaptureStdout();
    EXPECT_EQ(keygen(link), exit_failed) << force;
    ::testing::internal::GetCapturedStdout();
  }
  EXPECT_EQ(read(dir_.file("target")), "target\n");
  EXPECT_FALSE(std::filesystem::exists(dir_.file("nowhere")));
  // keygen: node keys and link keys.
  KeygenOptions again;
  again.node = "alice";
  again.dir = dir_.path();
  again.keys.unencrypted = true;
  const std::string alice_before = read(dir_.file("alice.sign"));
  err = captured_err([&] { return keygen(again); }, rc);
  EXPECT_EQ(rc, exit_failed);
  EXPECT_NE(err.find("--force"), std::string::npos) << err;
  EXPECT_EQ(read(dir_.file("alice.sign")), alice_before);
  KeygenOptions link;
  link.link = true;
  link.out = dir_.file("l.key");
  ::testing::internal::CaptureStdout();
  ASSERT_EQ(keygen(link), exit_ok);
  const std::string link_before = read(link.out);
  EXPECT_EQ(keygen(link), exit_failed);
  EXPECT_EQ(read(link.out), link_before);
  link.force = true;
  EXPECT_EQ(keygen(link), exit_ok);
  ::testing::internal::GetCapturedStdout();
  EXPECT_NE(read(link.out), link_before);
  ASSERT_EQ(::stat(link.out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // rules propose over an approved bundle: refused, the signatures kept.
  RulesProposeOptions p;
  p.policy = std::string(CG_SOURCE_DIR) + "/gateway/policy/examples/il-policy.toml";
  p.out = dir_.file("v1.bundle");
  ::testing::internal::CaptureStdout();
  ASSERT_EQ(rules_propose(p), exit_ok);
  ASSERT_EQ(rules_approve(p.out, key("alice"), root, ""), exit_ok);
  ASSERT_EQ(rules_approve(p.out, key("bob"), root, ""), exit_ok);
  ::testing::internal::GetCapturedStdout();
  const std::string approved = read(p.out);
  EXPECT_EQ(rules_propose(p), exit_failed);
  EXPECT_EQ(read(p.out), approved);
  // --out of approve and sign, trust create, item encode: refused over an existing file.
  EXPECT_EQ(rules_approve(p.out, key("carol"), root, root), exit_failed);
  EXPECT_EQ(trust_sign(root, key("root1"), p.out), exit_failed);
  EXPECT_EQ(read(p.out), approved);
  const std::string root_before = read(root);
  EXPECT_EQ(trust_create(dir_.file("trust.toml"), root), exit_failed);
  EXPECT_EQ(read(root), root_before);
  write(dir_.file("item.json"),
        R"({"id": "00112233445566778899aabbccddeeff", "source": "il-ops-1",
 "kind": "incident", "precedence": "immediate", "created": "2026-11-24T12:30:05Z",
 "banner": {"policy": "cell-2026", "classification": 0, "tlp": "green"},
 "portions": [{"name": "account", "content_type": "text/plain", "required": true,
   "label": {"policy": "cell-2026", "classification": 0, "tlp": "green"},
   "body": "Rocket fragment found near the fence; no injuries."}]})");
  EXPECT_EQ(item_encode(dir_.file("item.json"), p.out), exit_failed);
  EXPECT_EQ(read(p.out), approved);
  EXPECT_EQ(item_encode(dir_.file("item.json"), dir_.file("item.bin")), exit_ok);
  // --force replaces a regular file.
  p.force = true;
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(rules_propose(p), exit_ok);
  ::testing::internal::GetCapturedStdout();
  EXPECT_NE(::testing::internal::GetCapturedStderr().find("2 signature(s)"), std::string::npos);
  EXPECT_NE(read(p.out), approved);
}

}  // namespace
}  // namespace cg::cli

namespace cg::cli {
namespace {

crypto::PublicKeyFile fake_key(crypto::KeyKind kind) {
  static const auto sign = crypto::modern_suite().generate_signing_key();
  static const auto kx = crypto::modern_suite().generate_agreement_key();
  return {crypto::SuiteId::modern, kind,
          kind == crypto::KeyKind::signing ? sign->public_key() : kx->public_key()};
}

Result<crypto::PublicKeyFile> read_fake(const std::string& path) {
  if (path.find("missing") != std::string::npos) return io_error(path + ": cannot read");
  return fake_key(path.ends_with(".kx.pub") ? crypto::KeyKind::agreement
                                            : crypto::KeyKind::signing);
}

TEST(TrustSpec, EachMistakeIsNamedWithItsPosition) {
  const std::string base = R"(version = 2
expires = "2099-01-01T00:00:00Z"
[[root_key]]
name = "root/1"
key = "root1.sign.pub"
[[node]]
id = "il-gw-1"
party = "il"
role = "gateway"
signing_key = "gw.sign.pub"
)";
  auto ok = trust_root_from_spec(base, "t.toml", read_fake);
  ASSERT_TRUE(ok.ok()) << ok.status().reason();
  struct Case {
    std::string text;
    const char* reason;
  } cases[] = {
      {base + "colour = \"blue\"\n", "t.toml:11:1: node[0].colour: unknown key"},
      {"colour = \"blue\"\n" + base, "t.toml:1:1: colour: unknown key"},
      {replace(base, "role = \"gateway\"", "role = \"router\""),
       "t.toml:9:8: node[0].role: must be gateway, relay or receiver"},
      {replace(base, "expires = \"2099-01-01T00:00:00Z\"\n", ""), "t.toml:1:1: expires: missing"},
      {replace(base, "version = 2", "version = \"2\""), "t.toml:1:11: version: must be an integer"},
      {replace(base, "name = \"root/1\"", "nam = \"root/1\""),
       "t.toml:4:1: root_key[0].nam: unknown key"},
      {replace(base, "key = \"root1.sign.pub\"", "key = \"missing.pub\""),
       "t.toml:5:7: root_key[0].key: missing.pub: cannot read"},
      {replace(base, "signing_key = \"gw.sign.pub\"", "signing_key = \"gw.kx.pub\""),
       "t.toml:10:15: node[0].signing_key: gw.kx.pub is not a signing key"},
      {replace(base, "[[node]]", "[node]"),
       "t.toml:6:1: node: must be an array of tables ([[node]])"},
  };
  for (const auto& c : cases) {
    auto r = trust_root_from_spec(c.text, "t.toml", read_fake);
    ASSERT_FALSE(r.ok()) << c.reason;
    EXPECT_EQ(r.status().reason(), c.reason);
  }
}

}  // namespace
}  // namespace cg::cli

namespace cg::cli {
namespace {

// Two-person release (issue 17): a party's release threshold is 2 unless the spec says, must lie
// within its reviewers, and a value that is present but unreadable is refused, never defaulted.
TEST(TrustSpec, AReleaseThresholdIsTwoUnlessGivenAndNeverAboveThePartysReviewers) {
  const std::string base = R"(version = 1
expires = "2099-01-01T00:00:00Z"
[[root_key]]
name = "root/1"
key = "root1.sign.pub"
[[party]]
id = "il"
reviewer_threshold = 1
[[party.reviewer]]
name = "il/alice"
key = "alice.sign.pub"
[[party.reviewer]]
name = "il/bob"
key = "bob.sign.pub"
)";
  auto two = trust_root_from_spec(base, "t.toml", read_fake);
  ASSERT_TRUE(two.ok()) << two.status().reason();
  auto m = wire::decode_message<schema::TrustRoot>(*two, wire::trust_root_limits);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->root().getBody().getParties()[0].getReleaseThreshold(), 2);
  auto one = trust_root_from_spec(
      replace(base, "reviewer_threshold = 1", "reviewer_threshold = 1\nrelease_threshold = 1"),
      "t.toml", read_fake);
  ASSERT_TRUE(one.ok()) << one.status().reason();
  m = wire::decode_message<schema::TrustRoot>(*one, wire::trust_root_limits);
  EXPECT_EQ(m->root().getBody().getParties()[0].getReleaseThreshold(), 1);
  for (const char* bad : {"release_threshold = 3", "release_threshold = 0",
                          "release_threshold = \"2\"", "release_threshold = 2.0"}) {
    auto r = trust_root_from_spec(
        replace(base, "reviewer_threshold = 1", std::string("reviewer_threshold = 1\n") + bad),
        "t.toml", read_fake);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().reason().find("release"), std::string::npos) << r.status().reason();
  }
}

}  // namespace
}  // namespace cg::cli
