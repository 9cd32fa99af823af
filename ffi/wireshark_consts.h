/* The Wireshark headers whose constants the Rust side takes through bindgen. */
#include <wireshark.h>
#include <epan/proto.h>
#include <epan/expert.h>
#include <wiretap/wtap.h>
