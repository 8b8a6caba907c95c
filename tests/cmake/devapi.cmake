# kubelet-certd-devapi: the development API server (library for in-process tests + binary).
add_library(kcd_devapi STATIC ${CMAKE_CURRENT_LIST_DIR}/../devapi/server.cpp)
target_include_directories(kcd_devapi PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(kcd_devapi PUBLIC kcd_options kcd_asio kcd_testsupport kcd_config kcd_rotation
                      OpenSSL::SSL OpenSSL::Crypto nlohmann_json::nlohmann_json)
add_executable(kubelet-certd-devapi ${CMAKE_CURRENT_LIST_DIR}/../devapi/main.cpp)
target_link_libraries(kubelet-certd-devapi PRIVATE kcd_devapi CLI11::CLI11)
kcd_add_test(devapi_fixture_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/../devapi/devapi_fixture_test.cpp
             LIBS kcd_devapi kcd_testsupport LABELS integration)
