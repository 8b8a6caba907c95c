# Unit tests of rotation/ (lifecycle, backoff, deadlines, state file, atomic files, store)
# and systemd/ logging.
set(_u ${CMAKE_CURRENT_LIST_DIR}/../unit)
kcd_add_test(rotation_lifecycle_test SOURCES ${_u}/rotation_lifecycle_test.cpp LIBS kcd_rotation)
kcd_add_test(rotation_backoff_test SOURCES ${_u}/rotation_backoff_test.cpp LIBS kcd_rotation)
kcd_add_test(base_files_test SOURCES ${_u}/base_files_test.cpp LIBS kcd_base kcd_testsupport)
kcd_add_test(rotation_state_test SOURCES ${_u}/rotation_state_test.cpp LIBS kcd_rotation_store kcd_testsupport)
kcd_add_test(systemd_log_test SOURCES ${_u}/systemd_log_test.cpp LIBS kcd_systemd)
kcd_add_test(rotation_store_test SOURCES ${_u}/rotation_store_test.cpp LIBS kcd_rotation_store kcd_testsupport)
