# Unit tests of the rotation crypto: keys, CSRs, CSR names, certificate facts and the
# issued-certificate validator (each parsed back or cross-checked with OpenSSL itself).
set(_u ${CMAKE_CURRENT_LIST_DIR}/../unit)
kcd_add_test(rotation_key_test SOURCES ${_u}/rotation_key_test.cpp LIBS kcd_rotation kcd_testsupport)
kcd_add_test(rotation_csr_test SOURCES ${_u}/rotation_csr_test.cpp LIBS kcd_rotation kcd_testsupport)
kcd_add_test(rotation_csr_name_test SOURCES ${_u}/rotation_csr_name_test.cpp LIBS kcd_rotation kcd_testsupport)
kcd_add_test(rotation_certificate_test SOURCES ${_u}/rotation_certificate_test.cpp
             LIBS kcd_rotation kcd_testsupport nlohmann_json::nlohmann_json)
# rotation.cmake may register the validator test already (areas are included in name order).
if(NOT TARGET rotation_validate_test)
  kcd_add_test(rotation_validate_test SOURCES ${_u}/rotation_validate_test.cpp LIBS kcd_rotation kcd_testsupport)
endif()
kcd_add_test(rotation_node_request_test SOURCES ${_u}/rotation_node_request_test.cpp LIBS kcd_rotation kcd_testsupport)
kcd_add_test(rotation_serving_approval_test SOURCES ${_u}/rotation_serving_approval_test.cpp LIBS kcd_rotation)
kcd_add_test(rotation_ca_bundle_test SOURCES ${_u}/rotation_ca_bundle_test.cpp LIBS kcd_rotation kcd_testsupport)
