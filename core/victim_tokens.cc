#include "core/victim_tokens.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "common/hash.h"

namespace refx::core {
namespace {

std::string NormalisePhone(absl::string_view phone) {
  std::string digits;
  for (char c : phone) {
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) digits.push_back(c);
  }
  const bool plus = absl::StartsWith(absl::StripLeadingAsciiWhitespace(phone), "+");
  // The UK national form: +44 7700 900123, 0044 7700 900123, +44 (0)7700
  // 900123 and 447700900123 are all 07700900123.
  auto national = [](std::string rest) {
    if (absl::StartsWith(rest, "0")) rest.erase(0, 1);
    return "0" + rest;
  };
  if (plus && absl::StartsWith(digits, "44")) {
    digits = national(digits.substr(2));
  } else if (plus) {
    digits = "+" + digits;  // another country: kept apart from UK numbers
  } else if (absl::StartsWith(digits, "0044")) {
    digits = national(digits.substr(4));
  } else if (absl::StartsWith(digits, "44") && digits.size() == 12) {
    digits = national(digits.substr(2));
  }
  const size_t significant = digits.size() - (plus && digits[0] == '+' ? 1 : 0);
  return significant >= 10 ? digits : "";
}

// Lower-case letters and digits; everything else separates words.
std::string NormaliseName(absl::string_view name) {
  std::string out;
  bool gap = false;
  for (char c : name) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(u) || u >= 0x80) {  // keep non-ASCII letters as they are
      if (gap && !out.empty()) out.push_back(' ');
      gap = false;
      out.push_back(absl::ascii_tolower(u));
    } else if (c == '\'' || c == '.') {
      // O'Brien == OBrien; St. John == St John (the dot then the space).
      continue;
    } else {
      gap = true;
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> NormalisedVictimIdentifiers(const v1::Victim& victim) {
  std::vector<std::string> ids;
  if (const std::string phone = NormalisePhone(victim.phone()); !phone.empty()) {
    ids.push_back(absl::StrCat("phone:", phone));
  }
  std::string email = absl::AsciiStrToLower(absl::StripAsciiWhitespace(victim.email()));
  if (email.size() > 3 && absl::StrContains(email, "@")) ids.push_back(absl::StrCat("email:", email));
  const std::string name = NormaliseName(absl::StrCat(victim.given_name(), " ", victim.family_name()));
  absl::CivilDay born;
  const std::string birth = std::string(absl::StripAsciiWhitespace(victim.birth_date()));
  if (!name.empty() && birth.size() == 10 && absl::ParseCivilTime(birth, &born)) {
    ids.push_back(absl::StrCat("name-dob:", name, "|", absl::FormatCivilTime(born)));
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

std::vector<KindedVictimToken> VictimTokensByKind(absl::string_view key, const v1::Victim& victim) {
  std::vector<KindedVictimToken> tokens;
  if (key.empty()) return tokens;
  for (const std::string& id : NormalisedVictimIdentifiers(victim)) {
    // A version prefix, so a future change of normalisation can run beside
    // the old tokens instead of silently never matching them.
    tokens.push_back({id.substr(0, id.find(':')), HexEncode(HmacSha256(key, absl::StrCat("refx-victim-v1|", id)))});
  }
  return tokens;
}

std::vector<std::string> VictimTokens(absl::string_view key, const v1::Victim& victim) {
  std::vector<std::string> tokens;
  for (KindedVictimToken& t : VictimTokensByKind(key, victim)) tokens.push_back(std::move(t.token));
  return tokens;
}

}  // namespace refx::core
