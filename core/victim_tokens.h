// Repeat-victim matching without plaintext: the victim identifiers of a
// referral, normalised so that the same person written differently by two
// agencies gives the same text, then turned into keyed HMAC-SHA256 tokens
// under a key only the server holds. Only tokens are stored and compared;
// the normalised identifiers exist only in memory during a create.
//
// Which identifiers count, and why:
//   * phone: digits only, UK numbers in one form (+44 7700 900123,
//     0044..., 07700-900123 are all 07700900123); at least 10 digits;
//   * email: trimmed and lower-cased (the whole address: providers differ
//     on whether the local part is case-sensitive or dotted, and a false
//     match is worse than a missed one);
//   * name with date of birth, as one identifier: given and family names
//     lower-cased, punctuation dropped, spaces collapsed, plus a valid
//     YYYY-MM-DD birth date. A name alone is not an identifier (common
//     names would match strangers), nor is a birth date alone.
//   Address and postcode are not used: people sharing a household would be
//   counted as one victim.
#ifndef REFX_CORE_VICTIM_TOKENS_H_
#define REFX_CORE_VICTIM_TOKENS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "refx/v1/referral.pb.h"

namespace refx::core {

// The normalised identifiers of `victim`, each prefixed with its kind
// (`phone:`, `email:`, `name-dob:`), without duplicates. Empty when none is
// usable. Plaintext: never log or store these.
std::vector<std::string> NormalisedVictimIdentifiers(const v1::Victim& victim);

// One token per identifier: lowercase hex of HMAC-SHA256(key, identifier).
// Empty if `key` is empty (matching switched off).
std::vector<std::string> VictimTokens(absl::string_view key, const v1::Victim& victim);

// The same tokens, each with the kind of identifier it came from (`phone`,
// `email`, `name-dob`): subject access says which identifiers matched.
struct KindedVictimToken {
  std::string kind;
  std::string token;
};
std::vector<KindedVictimToken> VictimTokensByKind(absl::string_view key, const v1::Victim& victim);

// How far back earlier referrals count as the same victim's.
inline constexpr int kRepeatVictimWindowDays = 365;

}  // namespace refx::core

#endif  // REFX_CORE_VICTIM_TOKENS_H_
