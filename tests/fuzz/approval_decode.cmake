cg_fuzz(approval_decode SOURCES ${CMAKE_CURRENT_LIST_DIR}/approval_decode.cc
        DEPS cg_approval PkgConfig::SODIUM)
