#include "crypto/keys.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "gateway/common/byte_reader.h"
#include "gateway/common/hex.h"

namespace cg::crypto {
namespace {

constexpr char magic[8] = {'C', 'G', 'K', 'E', 'Y', '0', '1', '\n'};
constexpr char link_magic[8] = {'C', 'G', 'L', 'I', 'N', 'K', '1', '\n'};
constexpr std::uint8_t protection_none = 0;
constexpr std::uint8_t protection_argon2id = 1;
constexpr std::size_t salt_bytes = crypto_pwhash_SALTBYTES;
constexpr std::size_t nonce_bytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;

Result<SuiteId> suite_of(std::uint8_t v) {
  if (v == 1 || v == 2 || v == 3) return static_cast<SuiteId>(v);
  return malformed("key file: unknown suite " + std::to_string(v));
}

std::size_t private_bytes_of(SuiteId s) { return s == SuiteId::cnsa ? 48 : 32; }

Result<Secret> derive_file_key(const Secret& passphrase, Bytes salt, std::uint64_t ops,
                               std::uint64_t mem) {
  ensure_sodium();
  if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > 16 || mem < crypto_pwhash_MEMLIMIT_MIN ||
      mem > memlimit_max) {
    return malformed("key file: Argon2id cost out of bounds");
  }
  Secret key(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
  if (crypto_pwhash(key.bytes().data(), key.size(),
                    reinterpret_cast<const char*>(passphrase.bytes().data()), passphrase.size(),
                    salt.data(), ops, static_cast<std::size_t>(mem),
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return overloaded("key file: Argon2id ran out of memory");
  }
  return key;
}

}  // namespace

std::string_view kind_name(KeyKind kind) {
  return kind == KeyKind::signing ? "signing" : "agreement";
}

Result<std::vector<std::uint8_t>> encode_private_key(SuiteId suite, KeyKind kind, Bytes public_key,
                                                     const Secret& private_key,
                                                     const Secret* passphrase,
                                                     bool allow_unencrypted,
                                                     const PasswordCost& cost) {
  ensure_sodium();
  if (passphrase == nullptr && !allow_unencrypted) {
    return rejected("refusing to write an unencrypted private key without the explicit flag");
  }
  std::vector<std::uint8_t> out(std::begin(magic), std::end(magic));
  ByteWriter w(out);
  w.u8(static_cast<std::uint8_t>(suite));
  w.u8(static_cast<std::uint8_t>(kind));
  w.u8(passphrase ? protection_argon2id : protection_none);
  w.u8(0);
  w.u16(static_cast<std::uint16_t>(public_key.size()));
  w.bytes(public_key);
  if (!passphrase) {
    w.u16(static_cast<std::uint16_t>(private_key.size()));
    w.bytes(private_key.bytes());
    return out;
  }
  std::uint8_t salt[salt_bytes], nonce[nonce_bytes];
  randombytes_buf(salt, sizeof salt);
  randombytes_buf(nonce, sizeof nonce);
  w.bytes(salt);
  w.u64(cost.opslimit);
  w.u64(cost.memlimit);
  w.bytes(nonce);
  w.u16(static_cast<std::uint16_t>(private_key.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES));
  CG_ASSIGN_OR_RETURN(auto key, derive_file_key(*passphrase, salt, cost.opslimit, cost.memlimit));
  const std::size_t ad_len = out.size();
  out.resize(ad_len + private_key.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + ad_len, &len, private_key.bytes().data(),
                                             private_key.size(), out.data(), ad_len, nullptr, nonce,
                                             key.bytes().data());
  return out;
}

Result<PrivateKeyFile> decode_private_key(Bytes file, const Secret* passphrase,
                                          bool allow_unencrypted,
                                          std::optional<SuiteId> expect_suite,
                                          std::optional<KeyKind> expect_kind) {
  if (file.size() > key_file_bytes_max) return malformed("key file: too large");
  ByteReader r(file);
  auto m = r.bytes(sizeof magic);
  if (!m || std::memcmp(m->data(), magic, sizeof magic) != 0) {
    return malformed(file.size() < sizeof magic ? "key file: truncated"
                                                : "key file: not a cellgate private key file");
  }
  auto suite_byte = r.u8(), kind_byte = r.u8(), protection = r.u8(), reserved = r.u8();
  auto pub_len = r.u16();
  if (!pub_len) return malformed("key file: truncated");
  auto pub = r.bytes(*pub_len);
  if (!pub) return malformed("key file: truncated");
  CG_ASSIGN_OR_RETURN(SuiteId suite, suite_of(*suite_byte));
  if (*kind_byte != 1 && *kind_byte != 2) return malformed("key file: unknown key kind");
  const auto kind = static_cast<KeyKind>(*kind_byte);
  if (*reserved != 0) return malformed("key file: reserved byte set");
  if (expect_suite && *expect_suite != suite) {
    return rejected("key file: a " + std::string(suite_name(suite)) + " key, expected " +
                    std::string(suite_name(*expect_suite)));
  }
  if (expect_kind && *expect_kind != kind) {
    return rejected("key file: a " + std::string(kind_name(kind)) + " key, expected " +
                    std::string(kind_name(*expect_kind)));
  }
  PrivateKeyFile out{suite, kind, *protection == protection_argon2id,
                     std::vector<std::uint8_t>(pub->begin(), pub->end()),
                     Secret(private_bytes_of(suite))};
  if (*protection == protection_none) {
    if (!allow_unencrypted) {
      return rejected(
          "key file: private key is stored unencrypted; refusing without the explicit flag");
    }
    auto len = r.u16();
    if (!len) return malformed("key file: truncated");
    auto priv = r.bytes(*len);
    if (!priv) return malformed("key file: truncated");
    if (!r.at_end()) return malformed("key file: trailing bytes");
    if (priv->size() != out.private_key.size())
      return malformed("key file: wrong private key size");
    std::memcpy(out.private_key.bytes().data(), priv->data(), priv->size());
    return out;
  }
  if (*protection != protection_argon2id) return malformed("key file: unknown protection");
  auto salt = r.bytes(salt_bytes);
  auto ops = r.u64(), mem = r.u64();
  auto nonce = r.bytes(nonce_bytes);
  auto len = r.u16();
  if (!len) return malformed("key file: truncated");
  const std::size_t ad_len = r.position();
  auto ct = r.bytes(*len);
  if (!ct) return malformed("key file: truncated");
  if (!r.at_end()) return malformed("key file: trailing bytes");
  if (ct->size() != out.private_key.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES) {
    return malformed("key file: wrong private key size");
  }
  if (passphrase == nullptr) return rejected("key file: encrypted; a passphrase is needed");
  CG_ASSIGN_OR_RETURN(auto key, derive_file_key(*passphrase, *salt, *ops, *mem));
  unsigned long long plain_len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.private_key.bytes().data(), &plain_len,
                                                 nullptr, ct->data(), ct->size(), file.data(),
                                                 ad_len, nonce->data(), key.bytes().data()) != 0) {
    sodium_memzero(out.private_key.bytes().data(), out.private_key.size());
    return unauthenticated("key file: wrong passphrase, or the file was tampered with");
  }
  return out;
}

namespace {
template <typename Key, typename Load>
Result<std::unique_ptr<Key>> load_key_file(const std::string& path, const Secret* passphrase,
                                           bool allow_unencrypted, std::optional<SuiteId> suite,
                                           KeyKind kind, Load load) {
  CG_ASSIGN_OR_RETURN(auto bytes, read_file(path, key_file_bytes_max));
  auto file = decode_private_key(bytes, passphrase, allow_unencrypted, suite, kind);
  if (!file.ok()) return Status(file.status().code(), path + ": " + file.status().reason());
  CG_ASSIGN_OR_RETURN(const Suite* s, crypto::suite(file->suite));
  auto key = load(*s, file->private_key);
  if (!key.ok()) return Status(key.status().code(), path + ": " + key.status().reason());
  if (!ct_equal((*key)->public_key(), file->public_key)) {
    return unauthenticated(path + ": private key does not match the public key stored with it");
  }
  return std::move(*key);
}
}  // namespace

Result<std::unique_ptr<SigningKey>> load_signing_key_file(const std::string& path,
                                                          const Secret* passphrase,
                                                          bool allow_unencrypted,
                                                          std::optional<SuiteId> suite) {
  return load_key_file<SigningKey>(
      path, passphrase, allow_unencrypted, suite, KeyKind::signing,
      [](const Suite& s, const Secret& p) { return s.load_signing_key(p); });
}

Result<std::unique_ptr<AgreementKey>> load_agreement_key_file(const std::string& path,
                                                              const Secret* passphrase,
                                                              bool allow_unencrypted,
                                                              std::optional<SuiteId> suite) {
  return load_key_file<AgreementKey>(
      path, passphrase, allow_unencrypted, suite, KeyKind::agreement,
      [](const Suite& s, const Secret& p) { return s.load_agreement_key(p); });
}

std::string encode_public_key(SuiteId suite, KeyKind kind, Bytes public_key) {
  return "cellgate-public-key v1 " + std::string(suite_name(suite)) + " " +
         std::string(kind_name(kind)) + " " + to_hex(public_key) + "\n";
}

Result<PublicKeyFile> decode_public_key(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  constexpr std::string_view prefix = "cellgate-public-key v1 ";
  if (!text.starts_with(prefix)) return malformed("public key file: not a cellgate public key");
  text.remove_prefix(prefix.size());
  const auto sp1 = text.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : text.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return malformed("public key file: expected suite, kind, key");
  CG_ASSIGN_OR_RETURN(SuiteId suite, suite_from_name(text.substr(0, sp1)));
  const auto kind_text = text.substr(sp1 + 1, sp2 - sp1 - 1);
  KeyKind kind;
  if (kind_text == "signing")
    kind = KeyKind::signing;
  else if (kind_text == "agreement")
    kind = KeyKind::agreement;
  else
    return malformed("public key file: unknown kind '" + std::string(kind_text) + "'");
  auto key = from_hex(text.substr(sp2 + 1));
  if (!key) return malformed("public key file: key is not hex");
  CG_ASSIGN_OR_RETURN(const Suite* s, crypto::suite(suite));
  const std::size_t want =
      kind == KeyKind::signing ? s->signing_public_bytes() : s->agreement_public_bytes();
  if (key->size() != want) return malformed("public key file: wrong key size for the suite");
  return PublicKeyFile{suite, kind, std::move(*key)};
}

Result<PublicKeyFile> read_public_key_file(const std::string& path) {
  CG_ASSIGN_OR_RETURN(auto bytes, read_file(path, key_file_bytes_max));
  auto r = decode_public_key({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
  if (!r.ok()) return Status(r.status().code(), path + ": " + r.status().reason());
  return r;
}

std::vector<std::uint8_t> encode_link_key(const Secret& key) {
  std::vector<std::uint8_t> out(std::begin(link_magic), std::end(link_magic));
  out.insert(out.end(), key.bytes().begin(), key.bytes().end());
  return out;
}

Result<Secret> decode_link_key(Bytes file) {
  if (file.size() != sizeof link_magic + 32 ||
      std::memcmp(file.data(), link_magic, sizeof link_magic) != 0) {
    return malformed("link key file: expected \"CGLINK1\\n\" and 32 key bytes");
  }
  return Secret::copy_of(file.subspan(sizeof link_magic));
}

Result<Secret> read_link_key_file(const std::string& path) {
  CG_ASSIGN_OR_RETURN(auto bytes, read_file(path, 64));
  auto key = decode_link_key(bytes);
  sodium_memzero(bytes.data(), bytes.size());
  if (!key.ok()) return Status(key.status().code(), path + ": " + key.status().reason());
  return key;
}

Result<Secret> read_passphrase_file(const std::string& path) {
  CG_ASSIGN_OR_RETURN(auto bytes, read_file(path, 1024));
  std::size_t n = 0;
  while (n < bytes.size() && bytes[n] != '\n' && bytes[n] != '\r') ++n;
  auto out = Secret::copy_of({bytes.data(), n});
  sodium_memzero(bytes.data(), bytes.size());
  if (n == 0) return malformed(path + ": empty passphrase");
  return out;
}

Result<std::vector<std::uint8_t>> read_file(const std::string& path, std::size_t max) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error(path + ": " + std::strerror(errno));
  std::vector<std::uint8_t> out(max + 1);
  std::size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      return io_error(path + ": " + std::strerror(e));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (got > max) return malformed(path + ": larger than " + std::to_string(max) + " bytes");
  out.resize(got);
  return out;
}

namespace {

// A new file in `path`'s folder, named after it with a random suffix, created exclusively
// (never an existing file, never through a symbolic link), holding `data` with exactly `mode`,
// synced. Returns its name.
Result<std::string> write_temp(const std::string& path, Bytes data, unsigned mode) {
  std::uint8_t suffix[8];
  randombytes_buf(suffix, sizeof suffix);
  const std::string tmp = path + ".tmp." + to_hex({suffix, sizeof suffix});
  const int fd =
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0777);
  if (fd < 0) return io_error(tmp + ": " + std::strerror(errno));
  std::size_t done = 0;
  int e = ::fchmod(fd, mode & 0777) == 0 ? 0 : errno;  // whatever the umask
  while (e == 0 && done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      e = errno;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  if (e == 0 && ::fsync(fd) != 0) e = errno;
  if (::close(fd) != 0 && e == 0) e = errno;
  if (e != 0) {
    ::unlink(tmp.c_str());
    return io_error(tmp + ": " + std::strerror(e));
  }
  return tmp;
}

}  // namespace

Status check_replaceable(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return io_error(path + ": " + std::strerror(errno));
  }
  if (S_ISLNK(st.st_mode)) {
    return rejected(path + ": is a symbolic link; refusing to write through or replace it");
  }
  if (!S_ISREG(st.st_mode)) return rejected(path + ": exists and is not a regular file");
  return {};
}

Status write_file(const std::string& path, Bytes data, unsigned mode, Existing existing) {
  if (existing == Existing::refuse) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) return rejected(path + ": already exists; not replaced");
  } else {
    CG_RETURN_IF_ERROR(check_replaceable(path));
  }
  CG_ASSIGN_OR_RETURN(const std::string tmp, write_temp(path, data, mode));
  // refuse: link() fails with EEXIST when anything (a file, a dangling symbolic link) appeared
  // at `path` meanwhile; replace: rename() replaces the directory entry itself, never what a
  // symbolic link points to.
  const int rc = existing == Existing::refuse ? ::link(tmp.c_str(), path.c_str())
                                              : ::rename(tmp.c_str(), path.c_str());
  const int e = rc == 0 ? 0 : errno;
  if (existing == Existing::refuse || rc != 0) ::unlink(tmp.c_str());
  if (e == EEXIST) return rejected(path + ": already exists; not replaced");
  if (e != 0) return io_error(path + ": " + std::strerror(e));
  return {};
}

Result<NodeKeyPaths> write_node_keys(const std::string& dir, const std::string& node,
                                     SuiteId suite_id, const Secret* passphrase,
                                     bool allow_unencrypted, const PasswordCost& cost,
                                     Existing existing) {
  CG_ASSIGN_OR_RETURN(const Suite* s, suite(suite_id));
  NodeKeyPaths p{dir + "/" + node + ".sign", dir + "/" + node + ".sign.pub",
                 dir + "/" + node + ".kx", dir + "/" + node + ".kx.pub"};
  // All four are checked before any is written, so a refusal leaves no half-made key set.
  for (const auto* f : {&p.signing, &p.signing_public, &p.agreement, &p.agreement_public}) {
    if (existing == Existing::refuse) {
      struct stat st {};
      if (::lstat(f->c_str(), &st) == 0) return rejected(*f + ": already exists; not replaced");
    } else {
      CG_RETURN_IF_ERROR(check_replaceable(*f));
    }
  }
  auto sign = s->generate_signing_key();
  auto kx = s->generate_agreement_key();
  CG_ASSIGN_OR_RETURN(auto sign_file, encode_private_key(suite_id, KeyKind::signing,
                                                         sign->public_key(), sign->private_bytes(),
                                                         passphrase, allow_unencrypted, cost));
  CG_ASSIGN_OR_RETURN(auto kx_file,
                      encode_private_key(suite_id, KeyKind::agreement, kx->public_key(),
                                         kx->private_bytes(), passphrase, allow_unencrypted, cost));
  const Status sign_written = write_file(p.signing, sign_file, 0600, existing);
  const Status kx_written =
      sign_written.ok() ? write_file(p.agreement, kx_file, 0600, existing) : Status();
  sodium_memzero(sign_file.data(), sign_file.size());
  sodium_memzero(kx_file.data(), kx_file.size());
  CG_RETURN_IF_ERROR(sign_written);
  CG_RETURN_IF_ERROR(kx_written);
  const auto sp = encode_public_key(suite_id, KeyKind::signing, sign->public_key());
  const auto kp = encode_public_key(suite_id, KeyKind::agreement, kx->public_key());
  CG_RETURN_IF_ERROR(write_file(p.signing_public,
                                {reinterpret_cast<const std::uint8_t*>(sp.data()), sp.size()}, 0644,
                                existing));
  CG_RETURN_IF_ERROR(write_file(p.agreement_public,
                                {reinterpret_cast<const std::uint8_t*>(kp.data()), kp.size()}, 0644,
                                existing));
  return p;
}

}  // namespace cg::crypto
