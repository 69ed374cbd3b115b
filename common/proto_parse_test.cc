#include "common/proto_parse.h"

#include "common/status_details.h"
#include "gtest/gtest.h"
#include "refx/v1/referral.pb.h"

namespace refx {
namespace {

TEST(ProtoParseTest, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));                // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));            // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));        // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));    // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("ok\xff"));
}

TEST(ProtoParseTest, NamesTheNestedRepeatedFieldWithInvalidUtf8) {
  // Build valid wire bytes, then corrupt one string in place: the wire format
  // of string and bytes is the same, so a Referral with a placeholder works.
  v1::Referral r;
  r.set_area("leicester");
  r.mutable_victim()->mutable_address()->add_lines("first line");
  r.mutable_victim()->mutable_address()->add_lines("XXXX");
  std::string bytes = r.SerializeAsString();
  bytes.replace(bytes.find("XXXX"), 4, "\xff\xfe\xfd\xfc");
  v1::Referral out;
  absl::Status s = ParseMessageOrExplain(bytes, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  auto v = FieldViolationsOf(s);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].field, "victim.address.lines[1]");
}

TEST(ProtoParseTest, GarbageIsRefusedWithoutAField) {
  v1::Referral out;
  absl::Status s = ParseMessageOrExplain("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ParseMessageOrExplain("", &out).ok());
}

}  // namespace
}  // namespace refx
