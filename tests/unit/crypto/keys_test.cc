// Key files: every failure the issue names gets its own clear error.
#include "crypto/keys.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "tests/support/temp_dir.h"

namespace cg::crypto {
namespace {

// The cheapest Argon2id cost libsodium allows, so tests under ASan stay fast.
const PasswordCost kFast{crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};

Secret pass(std::string_view s) {
  return Secret::copy_of({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}

class KeysTest : public ::testing::TestWithParam<SuiteId> {
 protected:
  const Suite& s() { return **suite(GetParam()); }
};

TEST_P(KeysTest, EncryptedKeysRoundTripAndSignTheSame) {
  auto key = s().generate_signing_key();
  const Secret pw = pass("correct horse");
  auto file = encode_private_key(GetParam(), KeyKind::signing, key->public_key(),
                                 key->private_bytes(), &pw, false, kFast);
  ASSERT_TRUE(file.ok());
  auto back = decode_private_key(*file, &pw, false, GetParam(), KeyKind::signing);
  ASSERT_TRUE(back.ok()) << back.status().reason();
  EXPECT_TRUE(back->encrypted);
  EXPECT_TRUE(back->private_key.equals(key->private_bytes()));
  auto loaded = *s().load_signing_key(back->private_key);
  EXPECT_EQ(loaded->public_key(), key->public_key());
  const std::uint8_t msg[] = {1, 2, 3};
  std::vector<std::uint8_t> sig(s().signature_bytes());
  ASSERT_TRUE(loaded->sign(msg, sig).ok());
  EXPECT_TRUE(s().verify(key->public_key(), msg, sig).ok());
}

TEST_P(KeysTest, EachFailureIsNamed) {
  auto key = s().generate_agreement_key();
  const Secret pw = pass("correct horse");
  const auto file = *encode_private_key(GetParam(), KeyKind::agreement, key->public_key(),
                                        key->private_bytes(), &pw, false, kFast);
  const Secret wrong = pass("battery staple");
  auto r = decode_private_key(file, &wrong, false);
  EXPECT_EQ(r.status().code(), Code::unauthenticated);
  EXPECT_NE(r.status().reason().find("wrong passphrase"), std::string::npos);
  EXPECT_EQ(decode_private_key(file, nullptr, false).status().code(), Code::rejected);
  // Truncated at every length.
  for (std::size_t n = 0; n < file.size(); ++n) {
    auto t = decode_private_key({file.data(), n}, &pw, false);
    ASSERT_FALSE(t.ok()) << n;
    EXPECT_EQ(t.status().code(), Code::malformed) << n << ": " << t.status().reason();
  }
  // Any flipped byte: refused (header bytes are the AEAD's associated data).
  for (std::size_t i = 0; i < file.size(); ++i) {
    auto bad = file;
    bad[i] ^= 0x01;
    EXPECT_FALSE(decode_private_key(bad, &pw, false).ok()) << i;
  }
  // Another suite or kind than asked for.
  const SuiteId other = GetParam() == SuiteId::cnsa ? SuiteId::modern : SuiteId::cnsa;
  auto wrong_suite = decode_private_key(file, &pw, false, other);
  EXPECT_EQ(wrong_suite.status().code(), Code::rejected);
  EXPECT_NE(wrong_suite.status().reason().find("expected"), std::string::npos);
  EXPECT_EQ(decode_private_key(file, &pw, false, std::nullopt, KeyKind::signing).status().code(),
            Code::rejected);
}

TEST_P(KeysTest, UnencryptedOnlyWithTheExplicitFlag) {
  auto key = s().generate_signing_key();
  EXPECT_EQ(encode_private_key(GetParam(), KeyKind::signing, key->public_key(),
                               key->private_bytes(), nullptr, false)
                .status()
                .code(),
            Code::rejected);
  auto file = *encode_private_key(GetParam(), KeyKind::signing, key->public_key(),
                                  key->private_bytes(), nullptr, true);
  EXPECT_EQ(decode_private_key(file, nullptr, false).status().code(), Code::rejected);
  auto back = decode_private_key(file, nullptr, true);
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(back->encrypted);
}

TEST_P(KeysTest, KeygenWritesFilesThatLoadAndMismatchedPublicKeysAreCaught) {
  testing::TempDir dir("cg-keys");
  const Secret pw = pass("pw");
  auto paths = write_node_keys(dir.path(), "il-gw-1", GetParam(), &pw, false, kFast);
  ASSERT_TRUE(paths.ok()) << paths.status().reason();
  struct stat st {};
  ASSERT_EQ(::stat(paths->signing.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto sign = load_signing_key_file(paths->signing, &pw, false, GetParam());
  ASSERT_TRUE(sign.ok()) << sign.status().reason();
  auto pub = read_public_key_file(paths->signing_public);
  ASSERT_TRUE(pub.ok()) << pub.status().reason();
  EXPECT_EQ(pub->public_key, (*sign)->public_key());
  EXPECT_EQ(pub->kind, KeyKind::signing);
  auto kx = load_agreement_key_file(paths->agreement, &pw, false, GetParam());
  ASSERT_TRUE(kx.ok()) << kx.status().reason();
  // A signing key file where an agreement key is expected.
  EXPECT_EQ(load_agreement_key_file(paths->signing, &pw, false).status().code(), Code::rejected);
  // A file whose stored public key is someone else's (re-sealed with the right passphrase).
  auto other = s().generate_signing_key();
  auto forged = *encode_private_key(GetParam(), KeyKind::signing, other->public_key(),
                                    (*sign)->private_bytes(), &pw, false, kFast);
  ASSERT_TRUE(write_file(dir.file("forged"), forged, 0600).ok());
  auto f = load_signing_key_file(dir.file("forged"), &pw, false);
  EXPECT_EQ(f.status().code(), Code::unauthenticated);
  EXPECT_NE(f.status().reason().find("does not match"), std::string::npos);
}

TEST(Keys, HostileArgonCostIsRefusedBeforeWork) {
  auto key = modern_suite().generate_signing_key();
  const Secret pw = pass("pw");
  auto file = *encode_private_key(SuiteId::modern, KeyKind::signing, key->public_key(),
                                  key->private_bytes(), &pw, false, kFast);
  // memlimit sits after magic(8) + 4 + len(2) + public(32) + salt(16) + opslimit(8).
  const std::size_t at = 8 + 4 + 2 + 32 + 16 + 8;
  file[at + 5] = 0xff;  // ~1 TiB
  auto r = decode_private_key(file, &pw, false);
  EXPECT_EQ(r.status().code(), Code::malformed);
  EXPECT_NE(r.status().reason().find("cost"), std::string::npos);
}

TEST(Keys, PublicAndLinkKeyFiles) {
  auto key = cnsa_suite().generate_signing_key();
  const auto text = encode_public_key(SuiteId::cnsa, KeyKind::signing, key->public_key());
  auto back = decode_public_key(text);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->public_key, key->public_key());
  EXPECT_FALSE(decode_public_key("cellgate-public-key v1 cnsa signing 0011").ok());
  EXPECT_FALSE(decode_public_key("cellgate-public-key v1 rot13 signing 00").ok());
  EXPECT_FALSE(decode_public_key("hello").ok());
  const Secret link = Secret::random(32);
  auto round = decode_link_key(encode_link_key(link));
  ASSERT_TRUE(round.ok());
  EXPECT_TRUE(round->equals(link));
  auto enc = encode_link_key(link);
  enc.pop_back();
  EXPECT_EQ(decode_link_key(enc).status().code(), Code::malformed);
}

// write_file: refuse leaves an existing file (or link) alone; replace swaps a regular file and
// still refuses links and special files; the mode is exact whatever the umask; no temporary
// file is left behind; write_node_keys writes nothing when any of its files exists.
TEST(Keys, WriteFileNeverReplacesWithoutBeingToldAndNeverFollowsALink) {
  testing::TempDir dir("cg-write");
  const std::vector<std::uint8_t> a{'a'}, b{'b'};
  auto content = [](const std::string& path) { return *read_file(path, 16); };
  const mode_t old = ::umask(0);  // a permissive umask must not widen a secret file
  ASSERT_TRUE(write_file(dir.file("f"), a, 0600, Existing::refuse).ok());
  ::umask(old);
  struct stat st {};
  ASSERT_EQ(::stat(dir.file("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const Status again = write_file(dir.file("f"), b, 0600, Existing::refuse);
  EXPECT_EQ(again.code(), Code::rejected);
  EXPECT_NE(again.reason().find("already exists"), std::string::npos) << again.reason();
  EXPECT_EQ(content(dir.file("f")), a);
  ::chmod(dir.file("f").c_str(), 0644);
  ASSERT_TRUE(write_file(dir.file("f"), b, 0600, Existing::replace).ok());
  EXPECT_EQ(content(dir.file("f")), b);
  ASSERT_EQ(::stat(dir.file("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "not the replaced file's 0644";
  ASSERT_EQ(::symlink(dir.file("f").c_str(), dir.file("link").c_str()), 0);
  ASSERT_EQ(::symlink(dir.file("absent").c_str(), dir.file("dangling").c_str()), 0);
  ASSERT_EQ(::mkfifo(dir.file("fifo").c_str(), 0600), 0);
  for (const Existing e : {Existing::refuse, Existing::replace}) {
    for (const char* name : {"link", "dangling", "fifo"}) {
      EXPECT_EQ(write_file(dir.file(name), a, 0600, e).code(), Code::rejected) << name;
    }
  }
  EXPECT_EQ(content(dir.file("f")), b) << "the link's target is untouched";
  EXPECT_NE(::access(dir.file("absent").c_str(), F_OK), 0) << "nothing created through a link";
  std::size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
    ++entries;
  }
  EXPECT_EQ(entries, 4u);
  // Node keys: one existing file refuses the whole set, and nothing new appears.
  ASSERT_TRUE(write_file(dir.file("n.kx.pub"), a, 0644, Existing::refuse).ok());
  auto keys = write_node_keys(dir.path(), "n", SuiteId::modern, nullptr, true, kFast);
  EXPECT_EQ(keys.status().code(), Code::rejected);
  EXPECT_NE(::access(dir.file("n.sign").c_str(), F_OK), 0);
  ASSERT_TRUE(
      write_node_keys(dir.path(), "n", SuiteId::modern, nullptr, true, kFast, Existing::replace)
          .ok());
  ASSERT_EQ(::stat(dir.file("n.sign").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

INSTANTIATE_TEST_SUITE_P(Suites, KeysTest, ::testing::Values(SuiteId::modern, SuiteId::cnsa),
                         [](const auto& info) { return std::string(suite_name(info.param)); });

}  // namespace
}  // namespace cg::crypto
