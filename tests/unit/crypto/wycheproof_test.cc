// Every Wycheproof file in tests/vectors/wycheproof/ that applies to a suite primitive,
// through the Suite interface (so what is tested is what the nodes call):
//   ed25519, x25519, xchacha20_poly1305, hkdf_sha256      → modern
//   aes_gcm (256-bit keys, 96-bit IVs, 128-bit tags)       → cnsa, and modern_aes where the CPU has
//   it ecdsa_secp384r1_sha384_p1363, ecdh_secp384r1_ecpoint, hkdf_sha384 → cnsa
// Not applicable: chacha20_poly1305 (96-bit nonce; cellgate uses XChaCha20), the DER-encoded
// ecdsa_secp384r1_sha384 file (cellgate signatures are fixed-size IEEE P1363), AES-GCM groups
// with other key sizes or non-empty IVs other than 96 bits (no suite uses them). "valid" must be
// accepted and give the expected output, "invalid" refused; "acceptable" may go either way but, if
// accepted, must give the expected output.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <string>

#include "crypto/suite.h"
#include "crypto/suite_impl.h"
#include "gateway/common/hex.h"

namespace cg::crypto {
namespace {

std::string vectors(const std::string& file) {
  return std::string(CG_TEST_VECTORS_DIR) + "/wycheproof/" + file;
}

std::vector<std::uint8_t> hex(simdjson::dom::element e) {
  std::string_view s = e.get_string().value();
  auto b = from_hex(s);
  EXPECT_TRUE(b.has_value()) << s;
  return b.value_or(std::vector<std::uint8_t>{});
}

struct Tally {
  int valid = 0, invalid = 0, acceptable = 0;
  int total() const { return valid + invalid + acceptable; }
};

// Calls `run(group, test, result)` for every test; returns the count by expected result.
template <typename Fn>
Tally for_each_test(const std::string& file, Fn run) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.load(vectors(file)).value();
  Tally t;
  simdjson::dom::array groups = doc["testGroups"].get_array().value();
  for (simdjson::dom::element group : groups) {
    simdjson::dom::array tests = group["tests"].get_array().value();
    for (simdjson::dom::element test : tests) {
      const std::string_view result = test["result"].get_string().value();
      const std::int64_t id = test["tcId"].get_int64().value();
      SCOPED_TRACE(file + " tcId " + std::to_string(id));
      if (run(group, test, result)) {
        if (result == "valid")
          ++t.valid;
        else if (result == "invalid")
          ++t.invalid;
        else
          ++t.acceptable;
      }
    }
  }
  return t;
}

void expect_outcome(std::string_view result, bool accepted, bool output_matches) {
  if (result == "valid") {
    EXPECT_TRUE(accepted);
    EXPECT_TRUE(output_matches);
  } else if (result == "invalid") {
    EXPECT_FALSE(accepted && output_matches);
  } else if (accepted) {
    EXPECT_TRUE(output_matches);
  }
}

TEST(Wycheproof, Ed25519) {
  const Suite& s = modern_suite();
  auto t = for_each_test("ed25519_test.json", [&](auto group, auto test, std::string_view result) {
    const auto pk = hex(group["publicKey"]["pk"]);
    const bool ok = s.verify(pk, hex(test["msg"]), hex(test["sig"])).ok();
    expect_outcome(result, ok, true);
    return true;
  });
  EXPECT_EQ(t.total(), 151);
  EXPECT_GT(t.invalid, 0);
}

TEST(Wycheproof, X25519) {
  const Suite& s = modern_suite();
  auto t = for_each_test("x25519_test.json", [&](auto, auto test, std::string_view result) {
    auto key = s.load_agreement_key(Secret::copy_of(hex(test["private"])));
    EXPECT_TRUE(key.ok());
    auto shared = (*key)->agree(hex(test["public"]));
    const auto expected = hex(test["shared"]);
    const bool matches = shared.ok() && std::equal(shared->bytes().begin(), shared->bytes().end(),
                                                   expected.begin(), expected.end());
    expect_outcome(result, shared.ok(), matches);
    return true;
  });
  EXPECT_EQ(t.total(), 518);
}

// Groups with the suite's key size and either its nonce size or a nonce size listed in
// `refused_iv_bits` (which must all be invalid: the suite refuses other nonce lengths).
void aead_vectors(const Suite& s, const std::string& file, int key_bits, int iv_bits,
                  std::vector<int> refused_iv_bits, int expected_total) {
  auto t = for_each_test(file, [&](auto group, auto test, std::string_view result) {
    const auto iv_size = static_cast<int>(group["ivSize"].get_int64().value());
    if (group["keySize"].get_int64().value() != key_bits ||
        group["tagSize"].get_int64().value() != 128 ||
        (iv_size != iv_bits && std::find(refused_iv_bits.begin(), refused_iv_bits.end(), iv_size) ==
                                   refused_iv_bits.end())) {
      return false;
    }
    const Secret key = Secret::copy_of(hex(test["key"]));
    const auto iv = hex(test["iv"]), aad = hex(test["aad"]), msg = hex(test["msg"]);
    auto ct = hex(test["ct"]);
    const auto tag = hex(test["tag"]);
    ct.insert(ct.end(), tag.begin(), tag.end());
    // Open: the decisive direction (forged tags, modified ciphertexts).
    std::vector<std::uint8_t> plain;
    const bool opened = s.open(key, iv, aad, ct, plain).ok();
    expect_outcome(result, opened, plain == msg);
    if (!opened) EXPECT_TRUE(plain.empty()) << "a failed open released bytes";
    // Seal reproduces valid vectors exactly.
    if (result == "valid") {
      std::vector<std::uint8_t> sealed;
      EXPECT_TRUE(s.seal(key, iv, aad, msg, sealed).ok());
      EXPECT_EQ(sealed, ct);
    }
    // The same through the key made ready once, as an epoch key uses it (for GCM: expanded
    // by crypto_aead_aes256gcm_beforenm).
    auto prepared = s.prepare_aead(Secret::copy_of(key.bytes()));
    EXPECT_TRUE(prepared.ok()) << prepared.status().reason();
    if (prepared.ok()) {
      std::vector<std::uint8_t> again;
      const bool opened_again = (*prepared)->open(iv, aad, ct, again).ok();
      expect_outcome(result, opened_again, again == msg);
      if (!opened_again) EXPECT_TRUE(again.empty()) << "a failed open released bytes";
      if (result == "valid") {
        std::vector<std::uint8_t> sealed;
        EXPECT_TRUE((*prepared)->seal(iv, aad, msg, sealed).ok());
        EXPECT_EQ(sealed, ct);
      }
    }
    return true;
  });
  EXPECT_EQ(t.total(), expected_total);
  EXPECT_GT(t.invalid, 0);
}

TEST(Wycheproof, XChaCha20Poly1305) {
  aead_vectors(modern_suite(), "xchacha20_poly1305_test.json", 256, 192,
               {0, 64, 88, 96, 104, 112, 128, 160, 256}, 315);
}

// GCM with IVs other than 96 bits is valid GCM, but no cellgate suite uses it (nonces are
// derived as 96 bits), so those groups do not apply; the empty IV must be refused.
TEST(Wycheproof, AesGcmCnsa) { aead_vectors(cnsa_suite(), "aes_gcm_test.json", 256, 96, {0}, 68); }

// Botan's own GCM, which the cnsa suite uses where libsodium's (AES-NI) is not available.
TEST(Wycheproof, AesGcmCnsaPortable) {
  aead_vectors(cnsa_suite_portable(), "aes_gcm_test.json", 256, 96, {0}, 68);
}

TEST(Wycheproof, AesGcmModernAes) {
  auto s = suite(SuiteId::modern_aes);
  if (!s.ok()) GTEST_SKIP() << s.status().reason();
  aead_vectors(**s, "aes_gcm_test.json", 256, 96, {0}, 68);
}

void hkdf_vectors(const Suite& s, const std::string& file, int expected_total) {
  auto t = for_each_test(file, [&](auto, auto test, std::string_view result) {
    const auto size = static_cast<std::size_t>(test["size"].get_int64().value());
    auto okm = s.hkdf(hex(test["ikm"]), hex(test["salt"]), hex(test["info"]), size);
    const auto expected = hex(test["okm"]);
    const bool matches = okm.ok() && std::equal(okm->bytes().begin(), okm->bytes().end(),
                                                expected.begin(), expected.end());
    expect_outcome(result, okm.ok(), matches);
    return true;
  });
  EXPECT_EQ(t.total(), expected_total);
}

TEST(Wycheproof, HkdfSha256) { hkdf_vectors(modern_suite(), "hkdf_sha256_test.json", 86); }
TEST(Wycheproof, HkdfSha384) { hkdf_vectors(cnsa_suite(), "hkdf_sha384_test.json", 83); }

TEST(Wycheproof, EcdsaP384Sha384P1363) {
  const Suite& s = cnsa_suite();
  auto t = for_each_test("ecdsa_secp384r1_sha384_p1363_test.json",
                         [&](auto group, auto test, std::string_view result) {
                           const auto pk = hex(group["publicKey"]["uncompressed"]);
                           const bool ok = s.verify(pk, hex(test["msg"]), hex(test["sig"])).ok();
                           expect_outcome(result, ok, true);
                           return true;
                         });
  EXPECT_EQ(t.total(), 280);
  EXPECT_GT(t.valid, 0);
  EXPECT_GT(t.invalid, 0);
}

TEST(Wycheproof, EcdhP384) {
  const Suite& s = cnsa_suite();
  auto t = for_each_test("ecdh_secp384r1_ecpoint_test.json", [&](auto, auto test,
                                                                 std::string_view result) {
    // Private keys are big-endian and may carry a leading zero byte.
    auto priv = hex(test["private"]);
    while (priv.size() > 48 && priv.front() == 0) priv.erase(priv.begin());
    priv.insert(priv.begin(), 48 - std::min<std::size_t>(48, priv.size()), 0);
    auto key = s.load_agreement_key(Secret::copy_of(priv));
    EXPECT_TRUE(key.ok()) << key.status().reason();
    if (!key.ok()) return true;
    auto shared = (*key)->agree(hex(test["public"]));
    const auto expected = hex(test["shared"]);
    const bool matches = shared.ok() && std::equal(shared->bytes().begin(), shared->bytes().end(),
                                                   expected.begin(), expected.end());
    expect_outcome(result, shared.ok(), matches);
    return true;
  });
  EXPECT_EQ(t.total(), 790);
  EXPECT_GT(t.invalid, 0);
}

}  // namespace
}  // namespace cg::crypto
