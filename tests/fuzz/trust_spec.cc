// Fuzz target: the trust root spec `cellgate trust create` reads (gateway/cli
// trust_root_from_spec). Every key file it names resolves to one fixed key, so the fuzzer
// reaches the building code; hostile input must end in a status, never a crash.
#include <cstdint>
#include <cstdlib>

#include "crypto/suite.h"
#include "gateway/cli/cli.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto sign = cg::crypto::modern_suite().generate_signing_key();
  static const auto kx = cg::crypto::modern_suite().generate_agreement_key();
  auto read = [](const std::string& path) -> cg::Result<cg::crypto::PublicKeyFile> {
    if (path.ends_with(".kx.pub")) {
      return cg::crypto::PublicKeyFile{cg::crypto::SuiteId::modern, cg::crypto::KeyKind::agreement,
                                       kx->public_key()};
    }
    return cg::crypto::PublicKeyFile{cg::crypto::SuiteId::modern, cg::crypto::KeyKind::signing,
                                     sign->public_key()};
  };
  auto r =
      cg::cli::trust_root_from_spec({reinterpret_cast<const char*>(data), size}, "fuzz.toml", read);
  if (!r.ok() && r.status().code() != cg::Code::malformed && r.status().code() != cg::Code::io)
    std::abort();
  return 0;
}
