#include "common/fair_queue.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace refx {
namespace {

std::vector<std::string> Drain(FairQueue<std::string>* queue) {
  std::vector<std::string> out;
  while (auto item = queue->Pop()) out.push_back(*item);
  return out;
}

TEST(FairQueueTest, KeysTakeTurnsAndEachKeyStaysInOrder) {
  FairQueue<std::string> queue;
  for (int i = 0; i < 4; ++i) queue.Push("flood", "f" + std::to_string(i));
  queue.Push("polite", "p0");
  queue.Push("other", "o0");
  queue.Push("other", "o1");
  EXPECT_EQ(queue.size(), 7u);
  EXPECT_EQ(queue.size("flood"), 4u);
  EXPECT_EQ(queue.size("polite"), 1u);
  EXPECT_EQ(queue.size("absent"), 0u);
  // The polite key's one item comes second, not behind the flood's backlog.
  EXPECT_EQ(Drain(&queue), (std::vector<std::string>{"f0", "p0", "o0", "f1", "o1", "f2", "f3"}));
  EXPECT_TRUE(queue.empty());
  EXPECT_FALSE(queue.Pop().has_value());
}

TEST(FairQueueTest, AKeyThatMayNotBeServedKeepsItsTurn) {
  FairQueue<std::string> queue;
  queue.Push("busy", "b0");
  queue.Push("idle", "i0");
  std::string key;
  auto item = queue.Pop([](const std::string& k) { return k != "busy"; }, &key);
  ASSERT_TRUE(item.has_value());
  EXPECT_EQ(*item, "i0");
  EXPECT_EQ(key, "idle");
  EXPECT_FALSE(queue.CanPop([](const std::string& k) { return k != "busy"; }));
  EXPECT_TRUE(queue.CanPop());
  EXPECT_EQ(*queue.Pop(), "b0");
}

}  // namespace
}  // namespace refx
