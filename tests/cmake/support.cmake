# kcd_testsupport: what tests and devapi share (test CA, subprocess runner, temp dirs).
file(GLOB KCD_TESTSUPPORT_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/../support/*.cpp)
add_library(kcd_testsupport STATIC ${KCD_TESTSUPPORT_SOURCES})
target_include_directories(kcd_testsupport PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(kcd_testsupport PUBLIC kcd_options kcd_rotation)
