// Linking grpc++_reflection registers its plugin with every ServerBuilder
// from a static initializer, which would serve reflection to any agency in
// production (and on the operations port to anyone). This option takes it out
// again unless reflection is wanted.
#ifndef REFX_SERVER_WITHOUT_REFLECTION_H_
#define REFX_SERVER_WITHOUT_REFLECTION_H_

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "grpcpp/impl/server_builder_option.h"
#include "grpcpp/impl/server_builder_plugin.h"

namespace refx::server {

class WithoutReflection final : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->erase(std::remove_if(plugins->begin(), plugins->end(),
                                  [](const auto& p) { return p->name().find("reflection") != std::string::npos; }),
                   plugins->end());
  }
};

}  // namespace refx::server

#endif  // REFX_SERVER_WITHOUT_REFLECTION_H_
