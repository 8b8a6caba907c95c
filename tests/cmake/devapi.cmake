# kubelet-certd-devapi: the development API server (library for in-process tests + binary).
# Listed one by one (no glob): a new unit is a deliberate change to this list.
set(KCD_DEVAPI_DIR ${CMAKE_CURRENT_LIST_DIR}/../devapi)
add_library(kcd_devapi STATIC
  ${KCD_DEVAPI_DIR}/auth.cpp
  ${KCD_DEVAPI_DIR}/authority.cpp
  ${KCD_DEVAPI_DIR}/controllers.cpp
  ${KCD_DEVAPI_DIR}/cluster_api.cpp
  ${KCD_DEVAPI_DIR}/csr_api.cpp
  ${KCD_DEVAPI_DIR}/faults.cpp
  ${KCD_DEVAPI_DIR}/generated.cpp
  ${KCD_DEVAPI_DIR}/http_server.cpp
  ${KCD_DEVAPI_DIR}/server.cpp
  ${KCD_DEVAPI_DIR}/status.cpp
  ${KCD_DEVAPI_DIR}/store.cpp
  ${KCD_DEVAPI_DIR}/watch.cpp
  ${KCD_DEVAPI_DIR}/wire.cpp)
target_include_directories(kcd_devapi PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(kcd_devapi PUBLIC kcd_options kcd_asio kcd_testsupport kcd_config kcd_rotation
                      OpenSSL::SSL OpenSSL::Crypto nlohmann_json::nlohmann_json)
add_executable(kubelet-certd-devapi ${KCD_DEVAPI_DIR}/main.cpp)
target_link_libraries(kubelet-certd-devapi PRIVATE kcd_devapi CLI11::CLI11)
kcd_add_test(devapi_fixture_test SOURCES ${KCD_DEVAPI_DIR}/devapi_fixture_test.cpp
             LIBS kcd_devapi kcd_testsupport LABELS integration)

# cluster-info and the cluster CA rotated at runtime (add, switch signer, switch serving, drop).
kcd_add_test(devapi_ca_test SOURCES ${KCD_DEVAPI_DIR}/devapi_ca_test.cpp
             LIBS kcd_devapi kcd_testsupport LABELS integration)
