// gateway/signatory: what the release guard signs, what it refuses, and that it never signs a
// hand-off or a seq twice — against a real deployment's trust root, keys and approved bundle
// (bench/lab/deploy), through the same request bytes the filter sends.
#include "gateway/signatory/signatory.h"

#include <capnp/message.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "bench/lab/deploy/deploy.h"
#include "crypto/keys.h"
#include "gateway/approval/approval.h"
#include "gateway/envelope/envelope.h"
#include "gateway/node/node_common.h"
#include "gateway/quarantine/quarantine.h"
#include "gateway/store/store.h"
#include "gateway/wire/wire.h"
#include "tests/support/temp_dir.h"

namespace cg::signatory {
namespace {

using Bytes = std::span<const std::uint8_t>;

std::vector<std::uint8_t> item(int n, const std::string& body, int level = 0) {
  char id[33];
  std::snprintf(id, sizeof id, "%032x", n);
  const std::string l = "{\"policy\": \"cell-2026\", \"classification\": " + std::to_string(level) +
                        ", \"tlp\": \"green\"}";
  const std::string json = std::string("{\"id\": \"") + id +
                           "\", \"source\": \"il-src-1\", \"kind\": \"intelligence\", "
                           "\"precedence\": \"routine\", \"created\": \"" +
                           wire::format_rfc3339(SystemClock().now_ns()) + "\", \"banner\": " + l +
                           ", \"topics\": [\"border\"], \"portions\": [{\"name\": \"p\", "
                           "\"content_type\": \"text/plain\", \"label\": " +
                           l + ", \"body\": \"" + body + "\"}]}";
  auto m = wire::item_from_json(json);
  EXPECT_TRUE(m.ok()) << m.status().reason();
  const auto b = m->canonical_bytes();
  return {b.begin(), b.end()};
}

struct Release {
  std::uint64_t handoff;
  std::vector<std::uint8_t> original, released;
  std::vector<bool> removed;
  std::uint64_t hold = 0;
  std::vector<std::pair<std::vector<std::uint8_t>, std::vector<std::uint8_t>>> approvals;
};

class SignatoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    deploy::Options o;
    o.dir = dir_.file("cell");
    o.policy_file = std::string(CG_SOURCE_DIR) + "/gateway/policy/examples/il-policy.toml";
    auto c = deploy::create(o);
    ASSERT_TRUE(c.ok()) << c.status().reason();
    cell_ = std::move(*c);
    key_ = *crypto::load_signing_key_file(cell_.dir + "/keys/il-gw-1.sign", nullptr, true);
    root_bytes_ = *crypto::read_file(cell_.trust_root_file, 1u << 20);
    root_.emplace(*approval::TrustRoot::parse(root_bytes_, verifier_));
    bundle_bytes_ = *crypto::read_file(cell_.rules_bundle_file, 1u << 20);
    open();
  }
  void open() {
    signatory_.reset();
    approver_.reset();
    env_.reset();
    env_ = *store::Env::open({.path = dir_.file("guard-store"), .map_bytes = 64u << 20});
    approver_ = *approval::Approver::open(*env_, "il", *root_,
                                          std::make_shared<approval::SuiteVerifier>(suite_),
                                          node::policy_compiler());
    auto s = Signatory::open(*env_, {.gateway = "il-gw-1"}, *key_, *root_, *approver_, clock_);
    ASSERT_TRUE(s.ok()) << s.status().reason();
    signatory_ = std::move(*s);
  }
  // The hash the filter names (that of the deployment's approved bundle).
  std::vector<std::uint8_t> bundle_hash() {
    auto b = approval::decode_bundle(bundle_bytes_);
    return verifier_.hash(approval::body_bytes(b->root()));
  }
  wire::Message<schema::GuardReply> ask(capnp::MallocMessageBuilder& mb) {
    const auto bytes = signatory_->handle(wire::to_flat_bytes(mb));
    auto r = decode_reply(bytes);
    EXPECT_TRUE(r.ok()) << r.status().reason();
    return std::move(*r);
  }
  wire::Message<schema::GuardReply> offer(Bytes bundle) {
    capnp::MallocMessageBuilder mb;
    mb.initRoot<schema::GuardRequest>().setBundle(kj::arrayPtr(bundle.data(), bundle.size()));
    return ask(mb);
  }
  wire::Message<schema::GuardReply> seal(const std::vector<Release>& rs,
                                         std::uint64_t committed = 0) {
    capnp::MallocMessageBuilder mb;
    auto s = mb.initRoot<schema::GuardRequest>().initSeal();
    const auto h = bundle_hash();
    s.setBundleHash(kj::arrayPtr(h.data(), h.size()));
    s.setCommittedThrough(committed);
    auto list = s.initReleases(static_cast<unsigned>(rs.size()));
    for (unsigned i = 0; i < rs.size(); ++i) {
      auto r = list[i];
      r.setHandoff(rs[i].handoff);
      r.setDestination("sy");
      r.setOriginal(kj::arrayPtr(rs[i].original.data(), rs[i].original.size()));
      r.setReleased(kj::arrayPtr(rs[i].released.data(), rs[i].released.size()));
      auto rm = r.initRemoved(static_cast<unsigned>(rs[i].removed.size()));
      for (unsigned k = 0; k < rs[i].removed.size(); ++k) rm.set(k, rs[i].removed[k]);
      r.setHold(rs[i].hold);
      auto as = r.initApprovals(static_cast<unsigned>(rs[i].approvals.size()));
      for (unsigned k = 0; k < rs[i].approvals.size(); ++k) {
        const auto& [kid, sig] = rs[i].approvals[k];
        as[k].setKeyId(kj::arrayPtr(kid.data(), kid.size()));
        as[k].setSignature(kj::arrayPtr(sig.data(), sig.size()));
      }
    }
    return ask(mb);
  }
  Release plain(std::uint64_t handoff, int n) {
    auto b = item(n, "Smugglers seen at the ford.");
    return {handoff, b, b, {false}};
  }
  // Reviewer `who` (0 alice, 1 bob, 2 carol) approves releasing hold `hold` of `bytes` to sy.
  std::pair<std::vector<std::uint8_t>, std::vector<std::uint8_t>> approval(
      int who, std::uint64_t hold, const std::vector<std::uint8_t>& bytes) {
    auto k = *crypto::load_signing_key_file(cell_.reviewer_key_files[who], nullptr, true);
    quarantine::Held h;
    h.id = hold;
    h.destination = "sy";
    h.item = bytes;
    const auto statement = quarantine::Quarantine::release_statement(h, verifier_);
    std::vector<std::uint8_t> sig(suite_.signature_bytes());
    EXPECT_TRUE(k->sign(statement, sig).ok());
    return {crypto::key_id(suite_.id(), k->public_key()), sig};
  }
  void ready() {
    ASSERT_EQ(offer(bundle_bytes_).root().which(), schema::GuardReply::BUNDLE_VERSION);
  }

  testing::TempDir dir_{"cg-signatory"};
  deploy::Deployment cell_;
  const crypto::Suite& suite_ = crypto::modern_suite();
  approval::SuiteVerifier verifier_{crypto::modern_suite()};
  SystemClock clock_;
  std::unique_ptr<crypto::SigningKey> key_;
  std::vector<std::uint8_t> root_bytes_, bundle_bytes_;
  std::optional<approval::TrustRoot> root_;
  std::unique_ptr<store::Env> env_;
  std::unique_ptr<approval::Approver> approver_;
  std::unique_ptr<Signatory> signatory_;
};

TEST_F(SignatoryTest, AsksForTheBundleThenSignsWhatPassesTheGuard) {
  EXPECT_EQ(seal({plain(1, 1)}).root().which(), schema::GuardReply::NEED_BUNDLE);
  // A bundle whose bytes were altered is verified and refused, not used.
  auto forged = bundle_bytes_;
  forged[forged.size() - 10] ^= 1;
  EXPECT_EQ(offer(forged).root().which(), schema::GuardReply::REFUSED);
  ASSERT_NO_FATAL_FAILURE(ready());
  auto r = seal({plain(1, 1), plain(2, 2)});
  ASSERT_EQ(r.root().which(), schema::GuardReply::ANSWERS);
  const auto a = r.root().getAnswers();
  ASSERT_EQ(a.size(), 2u);
  for (unsigned i = 0; i < 2; ++i) {
    ASSERT_EQ(a[i].which(), schema::GuardAnswer::SIGNED) << a[i].getRefused().cStr();
    EXPECT_EQ(a[i].getHandoff(), i + 1);
    EXPECT_EQ(a[i].getSigned().getSeq(), i + 1);
    const Bytes env(a[i].getSigned().getEnvelope().begin(), a[i].getSigned().getEnvelope().size());
    auto checked = envelope::verify_origin(env, *root_, suite_);
    EXPECT_TRUE(checked.ok()) << checked.status().reason();
  }
  EXPECT_GT(a[0].getSigned().getAnnouncement().size(), 0u) << "the first one starts an epoch";
  EXPECT_EQ(a[1].getSigned().getAnnouncement().size(), 0u);
  EXPECT_EQ(signatory_->counters().signed_envelopes.load(), 2u);
}

TEST_F(SignatoryTest, ARepeatedHandOffGetsTheSameAnswerEvenAfterARestart) {
  ASSERT_NO_FATAL_FAILURE(ready());
  auto first = seal({plain(1, 1)});
  ASSERT_EQ(first.root().getAnswers()[0].which(), schema::GuardAnswer::SIGNED);
  const auto bytes = first.canonical_bytes();
  const std::vector<std::uint8_t> first_bytes(bytes.begin(), bytes.end());
  open();  // as after kill -9: a new process on the same store
  ASSERT_NO_FATAL_FAILURE(ready());
  auto again = seal({plain(1, 1)});
  const auto b2 = again.canonical_bytes();
  EXPECT_EQ(std::vector<std::uint8_t>(b2.begin(), b2.end()), first_bytes)
      << "the very envelope, not a second signature";
  EXPECT_EQ(signatory_->counters().repeated.load(), 1u);
  EXPECT_EQ(signatory_->counters().signed_envelopes.load(), 0u);
  // The next new hand-off takes the next seq: none was used twice.
  auto next = seal({plain(1, 1), plain(2, 2)}, /*committed=*/0);
  ASSERT_EQ(next.root().getAnswers()[1].which(), schema::GuardAnswer::SIGNED);
  EXPECT_EQ(next.root().getAnswers()[1].getSigned().getSeq(), 2u);
  // Once the filter says it committed hand-off 1, its answer is pruned.
  seal({plain(3, 3)}, /*committed=*/2);
  auto rtxn = *env_->begin_read();
  EXPECT_EQ(*rtxn.count(*env_->table("guard_answers")), 1u);
}

TEST_F(SignatoryTest, ReleasesTheGuardRefusesAreAnsweredRefusedAndUseNoSeq) {
  ASSERT_NO_FATAL_FAILURE(ready());
  auto secret = item(1, "Convoy route.", /*level=*/2);  // SECRET; sy may receive RESTRICTED
  auto deny = item(2, "Operation FALCON VEIL at dawn.");
  auto fine = item(3, "Smugglers seen at the ford.");
  auto r = seal({{1, secret, secret, {false}},
                 {2, deny, deny, {false}},
                 {3, fine, fine, {true}},  // says it removed the portion it sends
                 {4, fine, fine, {false}}});
  const auto a = r.root().getAnswers();
  ASSERT_EQ(a.size(), 4u);
  for (unsigned i = 0; i < 3; ++i)
    EXPECT_EQ(a[i].which(), schema::GuardAnswer::REFUSED) << "release " << i;
  EXPECT_NE(std::string(a[0].getRefused().cStr()).find("SECRET"), std::string::npos)
      << a[0].getRefused().cStr();
  EXPECT_NE(std::string(a[1].getRefused().cStr()).find("codeword-falcon-veil"), std::string::npos)
      << a[1].getRefused().cStr();
  EXPECT_NE(std::string(a[2].getRefused().cStr()).find("removed"), std::string::npos)
      << a[2].getRefused().cStr();
  ASSERT_EQ(a[3].which(), schema::GuardAnswer::SIGNED);
  EXPECT_EQ(a[3].getSigned().getSeq(), 1u) << "refusals use no seq";
  EXPECT_EQ(signatory_->counters().refused.load(), 3u);
}

TEST_F(SignatoryTest, AReviewerReleaseNeedsTheThresholdOfDistinctReviewersOnce) {
  ASSERT_NO_FATAL_FAILURE(ready());
  const auto held = item(1, "Convoy route.", /*level=*/2);
  const auto other = item(2, "Another item.");
  auto answer = [&](Release r) {
    auto reply = seal({std::move(r)});
    return std::string(reply.root().getAnswers()[0].which() == schema::GuardAnswer::SIGNED
                           ? "signed"
                           : reply.root().getAnswers()[0].getRefused().cStr());
  };
  EXPECT_NE(answer({1, held, held, {}, 7, {approval(1, 7, held)}}).find("threshold is 2"),
            std::string::npos)
      << "one reviewer alone";
  EXPECT_NE(
      answer({2, held, held, {}, 7, {approval(1, 7, held), approval(1, 7, held)}}).find("twice"),
      std::string::npos)
      << "the same reviewer twice";
  EXPECT_NE(answer({3, held, held, {}, 7, {approval(1, 7, other), approval(2, 7, held)}})
                .find("does not verify"),
            std::string::npos)
      << "an approval of another item";
  EXPECT_NE(answer({4, held, other, {}, 7, {approval(1, 7, held), approval(2, 7, held)}})
                .find("unchanged"),
            std::string::npos)
      << "other bytes than the held ones";
  EXPECT_EQ(answer({5, held, held, {}, 7, {approval(1, 7, held), approval(2, 7, held)}}), "signed")
      << "bob and carol";
  EXPECT_NE(answer({6, held, held, {}, 7, {approval(0, 7, held), approval(2, 7, held)}})
                .find("already released"),
            std::string::npos)
      << "a hold crosses once";
  EXPECT_EQ(signatory_->counters().refused_approvals.load(), 5u);
}

TEST_F(SignatoryTest, SignsStreamHeadsOnlyUpToTheLastSeqItSigned) {
  ASSERT_NO_FATAL_FAILURE(ready());
  auto head = [&](std::uint64_t seq) {
    capnp::MallocMessageBuilder mb;
    auto h = mb.initRoot<schema::GuardRequest>().initStreamHead();
    h.setDestination("sy");
    h.setSeq(seq);
    return ask(mb);
  };
  EXPECT_EQ(head(1).root().which(), schema::GuardReply::REFUSED) << "nothing signed yet";
  seal({plain(1, 1), plain(2, 2)});
  EXPECT_EQ(head(3).root().which(), schema::GuardReply::REFUSED);
  auto ok = head(2);
  ASSERT_EQ(ok.root().which(), schema::GuardReply::STREAM_HEAD);
  const Bytes b(ok.root().getStreamHead().begin(), ok.root().getStreamHead().size());
  auto fields = envelope::verify_stream_head(b, *root_, suite_);
  ASSERT_TRUE(fields.ok()) << fields.status().reason();
  EXPECT_EQ(fields->last_seq, 2u);
}

TEST_F(SignatoryTest, MalformedRequestsAreRefusedWholeAndCounted) {
  ASSERT_NO_FATAL_FAILURE(ready());
  const std::vector<std::uint8_t> junk(64, 0xab);
  auto reply = decode_reply(signatory_->handle(junk));
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->root().which(), schema::GuardReply::REFUSED);
  // Hand-off ids must ascend; a release by the policy carries no approvals.
  auto r = seal({plain(2, 1), plain(1, 2)});
  ASSERT_EQ(r.root().which(), schema::GuardReply::REFUSED);
  EXPECT_NE(std::string(r.root().getRefused().cStr()).find("handoff"), std::string::npos);
  auto p = plain(3, 3);
  p.approvals.push_back(approval(0, 1, p.original));
  EXPECT_EQ(seal({p}).root().which(), schema::GuardReply::REFUSED);
  EXPECT_EQ(signatory_->counters().malformed.load(), 3u);
  EXPECT_EQ(signatory_->counters().signed_envelopes.load(), 0u);
  // Seeds for tests/fuzz/corpus/guard_messages (written when asked: CG_WRITE_FUZZ_SEEDS=dir).
  if (const char* d = std::getenv("CG_WRITE_FUZZ_SEEDS")) {
    auto write = [&](const std::string& name, Bytes b) {
      std::ofstream(std::string(d) + "/" + name, std::ios::binary)
          .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    };
    capnp::MallocMessageBuilder mb;
    auto s = mb.initRoot<schema::GuardRequest>().initSeal();
    const auto h = bundle_hash();
    s.setBundleHash(kj::arrayPtr(h.data(), h.size()));
    auto list = s.initReleases(1);
    list[0].setHandoff(9);
    list[0].setDestination("sy");
    const auto one = item(9, "seed");
    list[0].setOriginal(kj::arrayPtr(one.data(), one.size()));
    list[0].setReleased(kj::arrayPtr(one.data(), one.size()));
    list[0].initRemoved(1).set(0, false);
    const auto req = wire::to_flat_bytes(mb);
    write("seal-request", req);
    write("seal-reply", signatory_->handle(req));
  }
}

}  // namespace
}  // namespace cg::signatory
