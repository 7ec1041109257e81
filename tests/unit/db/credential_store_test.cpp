// SqliteCredentialStore on a real database file.
#include "db/credential_store.h"

#include <gtest/gtest.h>

#include "db/database.h"
#include "tests/unit/db/test_support.h"

namespace lwgate::db {
namespace credential_store_test {

std::vector<std::uint8_t> key(std::initializer_list<std::uint8_t> b) {
  return b;
}

class CredentialStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = openDatabase(dir.file("c.db"));
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    db.emplace(std::move(*opened));
    auto s = SqliteCredentialStore::create(db->connection());
    ASSERT_TRUE(s.ok()) << s.error().message;
    store = std::move(*s);
  }

  testing::TempDir dir;
  std::optional<Database> db;
  std::unique_ptr<SqliteCredentialStore> store;
};

TEST_F(CredentialStoreTest, PutFindListRemove) {
  const auto k1 = key({0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc,
                       0xdd, 0xee, 0xff});
  auto added = store->put("id-1", k1, "dev-1", 1000);
  ASSERT_TRUE(added.ok()) << added.error().message;
  EXPECT_FALSE(*added);
  // A binary identity (no zero byte) is a different row.
  const std::string binary("\x01\xfe\x7f", 3);
  ASSERT_TRUE(store->put(binary, key({1}), "dev-2", 2000).ok());

  auto found = store->find("id-1");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->key, k1);
  EXPECT_EQ((*found)->endpoint, "dev-1");
  EXPECT_EQ(**store->endpointForIdentity(binary), "dev-2");
  EXPECT_FALSE(store->find("nobody")->has_value());
  EXPECT_FALSE(store->endpointForIdentity("nobody")->has_value());
  EXPECT_TRUE(*store->endpointHasPsk("dev-1"));
  EXPECT_FALSE(*store->endpointHasPsk("dev-3"));
  EXPECT_EQ(*store->count(), 2);

  auto all = store->list("", 100);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].identity, "id-1");
  EXPECT_EQ((*all)[0].endpoint, "dev-1");
  EXPECT_TRUE((*all)[0].keySet);
  EXPECT_EQ((*all)[0].createdAtMs, 1000);
  EXPECT_EQ((*all)[1].identity, binary);
  EXPECT_EQ(store->list("dev-2", 100)->size(), 1u);
  EXPECT_EQ(store->list("", 1)->size(), 1u);
  EXPECT_TRUE(store->list("dev-9", 100)->empty());

  EXPECT_TRUE(*store->remove("id-1"));
  EXPECT_FALSE(*store->remove("id-1"));
  EXPECT_FALSE(*store->endpointHasPsk("dev-1"));
  EXPECT_EQ(*store->count(), 1);
}

TEST_F(CredentialStoreTest, PutReplacesKeyAndEndpointKeepingTheCreationTime) {
  ASSERT_TRUE(store->put("id", key({1, 2, 3}), "old-name", 1000).ok());
  auto replaced = store->put("id", key({9, 9}), "new-name", 5000);
  ASSERT_TRUE(replaced.ok());
  EXPECT_TRUE(*replaced);
  EXPECT_EQ((*store->find("id"))->key, key({9, 9}));
  auto info = (*store->list("", 10))[0];
  EXPECT_EQ(info.endpoint, "new-name");
  EXPECT_EQ(info.createdAtMs, 1000);
  EXPECT_EQ(info.updatedAtMs, 5000);
  EXPECT_FALSE(*store->endpointHasPsk("old-name"));
}

TEST_F(CredentialStoreTest, BadInputIsRefusedAndNothingStored) {
  const std::vector<std::uint8_t> longKey(core::kMaxPskKey + 1, 7);
  struct Case {
    std::string identity;
    std::vector<std::uint8_t> key;
    std::string endpoint;
  };
  for (const Case& c :
       {Case{"", key({1}), "ep"}, Case{std::string("a\0b", 3), key({1}), "ep"},
        Case{std::string(core::kMaxPskIdentity + 1, 'i'), key({1}), "ep"}, Case{"id", {}, "ep"},
        Case{"id", longKey, "ep"}, Case{"id", key({1}), ""}, Case{"id", key({1}), "bad\nname"}}) {
    auto r = store->put(c.identity, c.key, c.endpoint, 1);
    ASSERT_FALSE(r.ok()) << c.identity << " " << c.endpoint;
    EXPECT_EQ(r.error().code, ErrorCode::kBadRequest);
  }
  EXPECT_EQ(*store->count(), 0);
}

TEST_F(CredentialStoreTest, TheKeyDoesNotLingerInTheStatementOrTheWrongPlaces) {
  // A key made of a marker that would stand out anywhere it leaked to.
  const std::vector<std::uint8_t> marker{'S', 'E', 'C', 'R', 'E', 'T', '-', 'K', 'E', 'Y'};
  ASSERT_TRUE(store->put("id", marker, "ep", 1).ok());
  auto listed = store->list("", 10);
  ASSERT_TRUE(listed.ok());
  for (const auto& info : *listed) {
    EXPECT_EQ(info.identity.find("SECRET"), std::string::npos);
    EXPECT_EQ(info.endpoint.find("SECRET"), std::string::npos);
  }
  // The file itself is private.
  EXPECT_EQ(testing::fileMode(dir.file("c.db")), 0600u);
}

}  // namespace credential_store_test
}  // namespace lwgate::db
