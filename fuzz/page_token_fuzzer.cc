// Page tokens come back from clients: any bytes. Opening one must refuse
// everything it did not seal, whatever the bytes, without crashing; a token
// it sealed opens to exactly its payload, and only under its binding.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/sealed_token.h"
#include "fuzz/fuzz_support.h"

namespace {

const refx::TokenSealer& Sealer() {
  static const auto* sealer = new refx::TokenSealer(*refx::TokenSealer::Create(std::string(32, 'k')));
  return *sealer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input = refx::fuzz::AsText(data, size);
  // As a token a client sent.
  auto opened = Sealer().Open("refx-list-referrals-v2|leicestershire-police|0", input);
  (void)opened;
  // As a payload: sealed, it opens to itself under its binding only.
  const std::string token = Sealer().Seal("binding-a", input);
  auto same = Sealer().Open("binding-a", token);
  if (!same.ok() || *same != input) std::abort();
  if (Sealer().Open("binding-b", token).ok()) std::abort();
  return 0;
}
