#include "common/json_text.h"

#include "gtest/gtest.h"

namespace refx {
namespace {

TEST(JsonTextTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonQuote("plain"), "\"plain\"");
  EXPECT_EQ(JsonQuote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonQuote(std::string("a\x01" "b\n\x7f", 5)), "\"a\\u0001b\\n\\u007f\"");
  std::string out = "x=";
  AppendJsonEscaped(&out, "line\r\nforged=1");
  EXPECT_EQ(out, "x=line\\r\\nforged=1");
}

}  // namespace
}  // namespace refx
