//! The few librados and librbd C functions the rbd store calls, loaded at run
//! time so that glint builds and runs where Ceph's libraries are not installed,
//! behind owning wrappers whose `Drop` releases each handle exactly once.
//!
//! Every function here blocks (a network round trip at least); callers run
//! them on the blocking pool. Errors are librados' negative errno values,
//! kept with the name of the call that returned them.

#![allow(
    unsafe_code,
    reason = "the store's only foreign calls; every block states why it is sound"
)]

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::marker::PhantomData;
use std::path::Path;
use std::ptr;
use std::sync::OnceLock;

use libloading::Library;

type RadosT = *mut c_void;
type IoCtxT = *mut c_void;
type ImageT = *mut c_void;
type OptionsT = *mut c_void;
type CompletionT = *mut c_void;
type CallbackT = Option<unsafe extern "C" fn(CompletionT, *mut c_void)>;

const RADOS_LIBRARY: &str = "librados.so.2";
const RBD_LIBRARY: &str = "librbd.so.1";

/// `RBD_IMAGE_OPTION_*` (librbd.h) and `RBD_FEATURE_LAYERING` (features.h).
const OPTION_FORMAT: c_int = 0;
const OPTION_ORDER: c_int = 2;
const OPTION_FEATURES_SET: c_int = 8;
const FEATURE_LAYERING: u64 = 1;

/// A failed librados or librbd call: its name and the errno it returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CephError {
    pub call: &'static str,
    /// Positive errno (the C functions return it negated).
    pub errno: i32,
}

impl CephError {
    fn check(call: &'static str, ret: c_int) -> Result<c_int, CephError> {
        if ret < 0 {
            Err(CephError { call, errno: -ret })
        } else {
            Ok(ret)
        }
    }

    /// An argument that cannot cross into C (a NUL byte in a name).
    fn invalid(call: &'static str) -> CephError {
        CephError {
            call,
            errno: libc::EINVAL,
        }
    }
}

impl std::fmt::Display for CephError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = std::io::Error::from_raw_os_error(self.errno);
        write!(f, "{}: {text}", self.call)
    }
}

/// The entry points, resolved once per process. The libraries are never
/// unloaded, so the function pointers stay valid for the life of the process.
struct Api {
    _rados: Library,
    _rbd: Library,
    rados_create: unsafe extern "C" fn(*mut RadosT, *const c_char) -> c_int,
    rados_conf_read_file: unsafe extern "C" fn(RadosT, *const c_char) -> c_int,
    rados_conf_set: unsafe extern "C" fn(RadosT, *const c_char, *const c_char) -> c_int,
    rados_connect: unsafe extern "C" fn(RadosT) -> c_int,
    rados_shutdown: unsafe extern "C" fn(RadosT),
    rados_cluster_fsid: unsafe extern "C" fn(RadosT, *mut c_char, usize) -> c_int,
    rados_ioctx_create: unsafe extern "C" fn(RadosT, *const c_char, *mut IoCtxT) -> c_int,
    rados_ioctx_destroy: unsafe extern "C" fn(IoCtxT),
    rbd_image_options_create: unsafe extern "C" fn(*mut OptionsT),
    rbd_image_options_destroy: unsafe extern "C" fn(OptionsT),
    rbd_image_options_set_uint64: unsafe extern "C" fn(OptionsT, c_int, u64) -> c_int,
    rbd_create4: unsafe extern "C" fn(IoCtxT, *const c_char, u64, OptionsT) -> c_int,
    rbd_remove: unsafe extern "C" fn(IoCtxT, *const c_char) -> c_int,
    rbd_trash_move: unsafe extern "C" fn(IoCtxT, *const c_char, u64) -> c_int,
    rbd_open: unsafe extern "C" fn(IoCtxT, *const c_char, *mut ImageT, *const c_char) -> c_int,
    rbd_open_read_only:
        unsafe extern "C" fn(IoCtxT, *const c_char, *mut ImageT, *const c_char) -> c_int,
    rbd_close: unsafe extern "C" fn(ImageT) -> c_int,
    rbd_get_size: unsafe extern "C" fn(ImageT, *mut u64) -> c_int,
    rbd_resize: unsafe extern "C" fn(ImageT, u64) -> c_int,
    rbd_flush: unsafe extern "C" fn(ImageT) -> c_int,
    rbd_snap_create: unsafe extern "C" fn(ImageT, *const c_char) -> c_int,
    rbd_snap_remove: unsafe extern "C" fn(ImageT, *const c_char) -> c_int,
    rbd_snap_protect: unsafe extern "C" fn(ImageT, *const c_char) -> c_int,
    rbd_snap_unprotect: unsafe extern "C" fn(ImageT, *const c_char) -> c_int,
    rbd_snap_is_protected: unsafe extern "C" fn(ImageT, *const c_char, *mut c_int) -> c_int,
    rbd_aio_create_completion:
        unsafe extern "C" fn(*mut c_void, CallbackT, *mut CompletionT) -> c_int,
    rbd_aio_write: unsafe extern "C" fn(ImageT, u64, usize, *const c_char, CompletionT) -> c_int,
    rbd_aio_read: unsafe extern "C" fn(ImageT, u64, usize, *mut c_char, CompletionT) -> c_int,
    rbd_aio_wait_for_complete: unsafe extern "C" fn(CompletionT) -> c_int,
    rbd_aio_get_return_value: unsafe extern "C" fn(CompletionT) -> isize,
    rbd_aio_release: unsafe extern "C" fn(CompletionT),
}

/// Copies a function pointer out of a library. The `?` on a missing symbol
/// names it, so an older librbd says which call it lacks.
macro_rules! symbol {
    ($lib:expr, $name:ident) => {{
        let name = concat!(stringify!($name), "\0");
        // SAFETY: the type this pointer is given is the field's, which is
        // written from the prototype in Ceph's librados.h or librbd.h; the
        // library stays loaded for the life of the process (`Api` is static).
        let symbol = unsafe { $lib.get(name.as_bytes()) };
        *symbol.map_err(|e| format!("{}: {e}", stringify!($name)))?
    }};
}

impl Api {
    fn load(rados_name: &str, rbd_name: &str) -> Result<Api, String> {
        // SAFETY: loading runs the libraries' initialisers, which are Ceph's
        // own and have no preconditions on the loading process.
        let rados = unsafe { Library::new(rados_name) }.map_err(|e| with_source(&e))?;
        // SAFETY: as above.
        let rbd = unsafe { Library::new(rbd_name) }.map_err(|e| with_source(&e))?;
        Ok(Api {
            rados_create: symbol!(rados, rados_create),
            rados_conf_read_file: symbol!(rados, rados_conf_read_file),
            rados_conf_set: symbol!(rados, rados_conf_set),
            rados_connect: symbol!(rados, rados_connect),
            rados_shutdown: symbol!(rados, rados_shutdown),
            rados_cluster_fsid: symbol!(rados, rados_cluster_fsid),
            rados_ioctx_create: symbol!(rados, rados_ioctx_create),
            rados_ioctx_destroy: symbol!(rados, rados_ioctx_destroy),
            rbd_image_options_create: symbol!(rbd, rbd_image_options_create),
            rbd_image_options_destroy: symbol!(rbd, rbd_image_options_destroy),
            rbd_image_options_set_uint64: symbol!(rbd, rbd_image_options_set_uint64),
            rbd_create4: symbol!(rbd, rbd_create4),
            rbd_remove: symbol!(rbd, rbd_remove),
            rbd_trash_move: symbol!(rbd, rbd_trash_move),
            rbd_open: symbol!(rbd, rbd_open),
            rbd_open_read_only: symbol!(rbd, rbd_open_read_only),
            rbd_close: symbol!(rbd, rbd_close),
            rbd_get_size: symbol!(rbd, rbd_get_size),
            rbd_resize: symbol!(rbd, rbd_resize),
            rbd_flush: symbol!(rbd, rbd_flush),
            rbd_snap_create: symbol!(rbd, rbd_snap_create),
            rbd_snap_remove: symbol!(rbd, rbd_snap_remove),
            rbd_snap_protect: symbol!(rbd, rbd_snap_protect),
            rbd_snap_unprotect: symbol!(rbd, rbd_snap_unprotect),
            rbd_snap_is_protected: symbol!(rbd, rbd_snap_is_protected),
            rbd_aio_create_completion: symbol!(rbd, rbd_aio_create_completion),
            rbd_aio_write: symbol!(rbd, rbd_aio_write),
            rbd_aio_read: symbol!(rbd, rbd_aio_read),
            rbd_aio_wait_for_complete: symbol!(rbd, rbd_aio_wait_for_complete),
            rbd_aio_get_return_value: symbol!(rbd, rbd_aio_get_return_value),
            rbd_aio_release: symbol!(rbd, rbd_aio_release),
            _rados: rados,
            _rbd: rbd,
        })
    }
}

/// libloading's errors keep the loader's own words in their source.
fn with_source(err: &libloading::Error) -> String {
    match std::error::Error::source(err) {
        Some(source) => format!("{err}: {source}"),
        None => err.to_string(),
    }
}

/// Why the libraries could not be used, in words for an operator.
fn load_error(reason: &str) -> String {
    format!(
        "librbd is not installed: cannot load {RBD_LIBRARY} and {RADOS_LIBRARY} ({reason}); \
         install Ceph's client libraries (Debian and Ubuntu: librbd1, librados2)"
    )
}

static API: OnceLock<Result<Api, String>> = OnceLock::new();

fn api() -> &'static Api {
    match API.get() {
        Some(Ok(api)) => api,
        // Every handle is made after `load` succeeded, so this is unreachable.
        _ => unreachable!("librbd used before it was loaded"),
    }
}

/// Loads librados and librbd once; the error says they are not installed.
pub(crate) fn load() -> Result<(), String> {
    match API.get_or_init(|| Api::load(RADOS_LIBRARY, RBD_LIBRARY)) {
        Ok(_) => Ok(()),
        Err(reason) => Err(load_error(reason)),
    }
}

fn cstring(call: &'static str, value: &str) -> Result<CString, CephError> {
    CString::new(value).map_err(|_| CephError::invalid(call))
}

/// A connected cluster handle. librados handles are thread-safe.
pub(crate) struct Rados {
    handle: RadosT,
}

// SAFETY: librados documents a cluster handle as usable from many threads at
// once; it is released once, in `Drop`.
unsafe impl Send for Rados {}
// SAFETY: as above.
unsafe impl Sync for Rados {}

impl Rados {
    /// Creates a handle for `user`, reads `conf` (librados' default search
    /// when none), applies `options`, and connects.
    pub(crate) fn connect(
        user: Option<&str>,
        conf: Option<&Path>,
        options: &[(&str, String)],
    ) -> Result<Rados, CephError> {
        let api = api();
        let user = user.map(|u| cstring("rados_create", u)).transpose()?;
        let mut handle = ptr::null_mut();
        // SAFETY: `handle` is a valid out pointer; `user` is NUL-terminated or
        // null, which librados reads as its default id.
        let ret = unsafe {
            (api.rados_create)(
                &mut handle,
                user.as_ref().map_or(ptr::null(), |u| u.as_ptr()),
            )
        };
        CephError::check("rados_create", ret)?;
        // From here the handle is released by `Drop`, whatever fails next.
        let rados = Rados { handle };
        let conf = conf
            .map(|p| {
                let text = p
                    .to_str()
                    .ok_or(CephError::invalid("rados_conf_read_file"))?;
                cstring("rados_conf_read_file", text)
            })
            .transpose()?;
        // SAFETY: a live, unconnected handle; the path is NUL-terminated or
        // null (librados then searches its default places).
        let ret = unsafe {
            (api.rados_conf_read_file)(
                rados.handle,
                conf.as_ref().map_or(ptr::null(), |c| c.as_ptr()),
            )
        };
        CephError::check("rados_conf_read_file", ret)?;
        for (name, value) in options {
            let name = cstring("rados_conf_set", name)?;
            let value = cstring("rados_conf_set", value)?;
            // SAFETY: a live handle and two NUL-terminated strings.
            let ret = unsafe { (api.rados_conf_set)(rados.handle, name.as_ptr(), value.as_ptr()) };
            CephError::check("rados_conf_set", ret)?;
        }
        // SAFETY: a live, configured, unconnected handle.
        let ret = unsafe { (api.rados_connect)(rados.handle) };
        CephError::check("rados_connect", ret)?;
        Ok(rados)
    }

    /// The cluster's fsid, as text.
    pub(crate) fn fsid(&self) -> Result<String, CephError> {
        let mut buf = [0u8; 64];
        // SAFETY: a live, connected handle and a buffer of the length given.
        let ret =
            unsafe { (api().rados_cluster_fsid)(self.handle, buf.as_mut_ptr().cast(), buf.len()) };
        let len = CephError::check("rados_cluster_fsid", ret)? as usize;
        let text = CStr::from_bytes_until_nul(&buf)
            .map(|c| c.to_bytes())
            .unwrap_or(&buf[..len.min(buf.len())]);
        String::from_utf8(text.to_vec()).map_err(|_| CephError::invalid("rados_cluster_fsid"))
    }
}

impl Drop for Rados {
    fn drop(&mut self) {
        // SAFETY: the handle is live, and every `IoCtx` made from it borrows
        // an `Arc<Rados>`, so none outlives it.
        unsafe { (api().rados_shutdown)(self.handle) }
    }
}

/// An I/O context on one pool. It keeps its cluster handle alive.
pub(crate) struct IoCtx {
    handle: IoCtxT,
    _cluster: std::sync::Arc<Rados>,
}

// SAFETY: an I/O context may be used from any thread (not from two at once,
// which `&mut`-free sharing here never does: it is not `Sync`).
unsafe impl Send for IoCtx {}

impl IoCtx {
    pub(crate) fn new(cluster: std::sync::Arc<Rados>, pool: &str) -> Result<IoCtx, CephError> {
        let pool = cstring("rados_ioctx_create", pool)?;
        let mut handle = ptr::null_mut();
        // SAFETY: a live, connected cluster handle, a NUL-terminated pool name
        // and a valid out pointer.
        let ret = unsafe { (api().rados_ioctx_create)(cluster.handle, pool.as_ptr(), &mut handle) };
        CephError::check("rados_ioctx_create", ret)?;
        Ok(IoCtx {
            handle,
            _cluster: cluster,
        })
    }

    /// Creates an empty format-2 image with objects of `2^order` bytes: the
    /// features of the cluster's `rbd_default_features`, plus layering, which
    /// copy-on-write clones need.
    pub(crate) fn create_image(&self, name: &str, order: u8) -> Result<(), CephError> {
        let api = api();
        let name = cstring("rbd_create4", name)?;
        let options = ImageOptions::new();
        for (option, value) in [
            (OPTION_FORMAT, 2),
            (OPTION_ORDER, u64::from(order)),
            (OPTION_FEATURES_SET, FEATURE_LAYERING),
        ] {
            // SAFETY: a live options handle; the option numbers are librbd's.
            let ret = unsafe { (api.rbd_image_options_set_uint64)(options.0, option, value) };
            CephError::check("rbd_image_options_set_uint64", ret)?;
        }
        // SAFETY: a live I/O context, a NUL-terminated name and live options.
        let ret = unsafe { (api.rbd_create4)(self.handle, name.as_ptr(), 0, options.0) };
        CephError::check("rbd_create4", ret).map(drop)
    }

    /// Removes an image that has no snapshots.
    pub(crate) fn remove_image(&self, name: &str) -> Result<(), CephError> {
        let name = cstring("rbd_remove", name)?;
        // SAFETY: a live I/O context and a NUL-terminated name.
        let ret = unsafe { (api().rbd_remove)(self.handle, name.as_ptr()) };
        CephError::check("rbd_remove", ret).map(drop)
    }

    /// Moves an image to the pool's trash, removable at once.
    pub(crate) fn trash_image(&self, name: &str) -> Result<(), CephError> {
        let name = cstring("rbd_trash_move", name)?;
        // SAFETY: a live I/O context and a NUL-terminated name.
        let ret = unsafe { (api().rbd_trash_move)(self.handle, name.as_ptr(), 0) };
        CephError::check("rbd_trash_move", ret).map(drop)
    }

    /// Opens an image, at a snapshot when one is named; read-only images take
    /// no lock and need only read caps.
    pub(crate) fn open(
        &self,
        name: &str,
        snapshot: Option<&str>,
        read_only: bool,
    ) -> Result<Image<'_>, CephError> {
        let api = api();
        let (call, open) = if read_only {
            ("rbd_open_read_only", api.rbd_open_read_only)
        } else {
            ("rbd_open", api.rbd_open)
        };
        let name = cstring(call, name)?;
        let snapshot = snapshot.map(|s| cstring(call, s)).transpose()?;
        let mut handle = ptr::null_mut();
        // SAFETY: a live I/O context, a NUL-terminated name, a valid out
        // pointer, and a NUL-terminated snapshot name or null (the head).
        let ret = unsafe {
            open(
                self.handle,
                name.as_ptr(),
                &mut handle,
                snapshot.as_ref().map_or(ptr::null(), |s| s.as_ptr()),
            )
        };
        CephError::check(call, ret)?;
        Ok(Image {
            handle,
            _io: PhantomData,
        })
    }
}

impl Drop for IoCtx {
    fn drop(&mut self) {
        // SAFETY: the context is live; images opened from it borrow it, so
        // they are closed by now.
        unsafe { (api().rados_ioctx_destroy)(self.handle) }
    }
}

struct ImageOptions(OptionsT);

impl ImageOptions {
    fn new() -> ImageOptions {
        let mut handle = ptr::null_mut();
        // SAFETY: a valid out pointer; this call cannot fail.
        unsafe { (api().rbd_image_options_create)(&mut handle) };
        ImageOptions(handle)
    }
}

impl Drop for ImageOptions {
    fn drop(&mut self) {
        // SAFETY: created by `new`, destroyed once.
        unsafe { (api().rbd_image_options_destroy)(self.0) }
    }
}

/// An open image (or snapshot of one). Closing waits for its writes.
pub(crate) struct Image<'io> {
    handle: ImageT,
    _io: PhantomData<&'io IoCtx>,
}

// SAFETY: librbd image handles may be used from any thread; this one is used
// from one at a time (it is not `Sync`).
unsafe impl Send for Image<'_> {}

impl Image<'_> {
    pub(crate) fn size(&self) -> Result<u64, CephError> {
        let mut size = 0;
        // SAFETY: a live image and a valid out pointer.
        let ret = unsafe { (api().rbd_get_size)(self.handle, &mut size) };
        CephError::check("rbd_get_size", ret)?;
        Ok(size)
    }

    pub(crate) fn resize(&self, size: u64) -> Result<(), CephError> {
        // SAFETY: a live image.
        let ret = unsafe { (api().rbd_resize)(self.handle, size) };
        CephError::check("rbd_resize", ret).map(drop)
    }

    pub(crate) fn flush(&self) -> Result<(), CephError> {
        // SAFETY: a live image.
        let ret = unsafe { (api().rbd_flush)(self.handle) };
        CephError::check("rbd_flush", ret).map(drop)
    }

    fn snap_call(
        &self,
        call: &'static str,
        f: unsafe extern "C" fn(ImageT, *const c_char) -> c_int,
        snapshot: &str,
    ) -> Result<(), CephError> {
        let snapshot = cstring(call, snapshot)?;
        // SAFETY: `f` is one of librbd's snapshot calls taking a live image
        // and a NUL-terminated snapshot name.
        let ret = unsafe { f(self.handle, snapshot.as_ptr()) };
        CephError::check(call, ret).map(drop)
    }

    pub(crate) fn snap_create(&self, snapshot: &str) -> Result<(), CephError> {
        self.snap_call("rbd_snap_create", api().rbd_snap_create, snapshot)
    }

    pub(crate) fn snap_remove(&self, snapshot: &str) -> Result<(), CephError> {
        self.snap_call("rbd_snap_remove", api().rbd_snap_remove, snapshot)
    }

    pub(crate) fn snap_protect(&self, snapshot: &str) -> Result<(), CephError> {
        self.snap_call("rbd_snap_protect", api().rbd_snap_protect, snapshot)
    }

    pub(crate) fn snap_unprotect(&self, snapshot: &str) -> Result<(), CephError> {
        self.snap_call("rbd_snap_unprotect", api().rbd_snap_unprotect, snapshot)
    }

    /// Whether a snapshot is protected; `ENOENT` when there is no such snapshot.
    pub(crate) fn snap_is_protected(&self, snapshot: &str) -> Result<bool, CephError> {
        let name = cstring("rbd_snap_is_protected", snapshot)?;
        let mut protected = 0;
        // SAFETY: a live image, a NUL-terminated name and a valid out pointer.
        let ret =
            unsafe { (api().rbd_snap_is_protected)(self.handle, name.as_ptr(), &mut protected) };
        CephError::check("rbd_snap_is_protected", ret)?;
        Ok(protected != 0)
    }

    fn completion(&self) -> Result<CompletionT, CephError> {
        let mut completion = ptr::null_mut();
        // SAFETY: no callback (librbd calls none when it is null), a valid out
        // pointer.
        let ret =
            unsafe { (api().rbd_aio_create_completion)(ptr::null_mut(), None, &mut completion) };
        CephError::check("rbd_aio_create_completion", ret)?;
        Ok(completion)
    }

    /// Starts writing all of `buf` at `offset`; the buffer comes back from
    /// [`InFlight::wait`].
    pub(crate) fn write_at(&self, offset: u64, buf: Vec<u8>) -> Result<InFlight<'_>, CephError> {
        let completion = self.completion()?;
        let pending = InFlight {
            completion,
            buf,
            call: "rbd_aio_write",
            _image: PhantomData,
        };
        // SAFETY: a live image and completion; the buffer is owned by
        // `pending`, which neither moves its heap allocation nor frees it
        // before the completion has fired (`wait`, or `Drop`).
        let ret = unsafe {
            (api().rbd_aio_write)(
                self.handle,
                offset,
                pending.buf.len(),
                pending.buf.as_ptr().cast(),
                completion,
            )
        };
        pending.started(ret)
    }

    /// Starts reading `buf.len()` bytes at `offset` into `buf`.
    pub(crate) fn read_at(&self, offset: u64, mut buf: Vec<u8>) -> Result<InFlight<'_>, CephError> {
        let completion = self.completion()?;
        let ptr = buf.as_mut_ptr();
        let len = buf.len();
        let pending = InFlight {
            completion,
            buf,
            call: "rbd_aio_read",
            _image: PhantomData,
        };
        // SAFETY: as in `write_at`; librbd writes at most `len` bytes into the
        // buffer, whose allocation `pending` keeps until completion.
        let ret = unsafe { (api().rbd_aio_read)(self.handle, offset, len, ptr.cast(), completion) };
        pending.started(ret)
    }
}

impl Drop for Image<'_> {
    fn drop(&mut self) {
        // SAFETY: a live image, closed once; its I/O in flight borrows it, so
        // it has all completed.
        unsafe { (api().rbd_close)(self.handle) };
    }
}

/// An asynchronous read or write in progress, owning its buffer.
pub(crate) struct InFlight<'img> {
    completion: CompletionT,
    buf: Vec<u8>,
    call: &'static str,
    _image: PhantomData<&'img Image<'img>>,
}

impl InFlight<'_> {
    fn started(self, ret: c_int) -> Result<Self, CephError> {
        // A request that was not queued never fires; release it at once.
        if ret < 0 {
            let mut this = std::mem::ManuallyDrop::new(self);
            // SAFETY: the completion was not handed to librbd, so nothing
            // else refers to it.
            unsafe { (api().rbd_aio_release)(this.completion) };
            drop(std::mem::take(&mut this.buf));
            return Err(CephError {
                call: this.call,
                errno: -ret,
            });
        }
        Ok(self)
    }

    /// Waits for the request: the byte count it moved, and the buffer.
    pub(crate) fn wait(self) -> (Result<usize, CephError>, Vec<u8>) {
        let mut this = std::mem::ManuallyDrop::new(self);
        let result = this.finish();
        (result, std::mem::take(&mut this.buf))
    }

    fn finish(&mut self) -> Result<usize, CephError> {
        let api = api();
        // SAFETY: a queued completion, waited for and released exactly once
        // (callers then forget `self` or are its `Drop`).
        let ret = unsafe {
            (api.rbd_aio_wait_for_complete)(self.completion);
            let ret = (api.rbd_aio_get_return_value)(self.completion);
            (api.rbd_aio_release)(self.completion);
            ret
        };
        if ret < 0 {
            Err(CephError {
                call: self.call,
                errno: i32::try_from(-ret).unwrap_or(libc::EIO),
            })
        } else {
            Ok(ret as usize)
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        // The buffer must outlive the request: wait before freeing it.
        let _ = self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_libraries_are_named_in_the_error() {
        let reason = match Api::load("libglint-no-such-rados.so.2", "libglint-no-such-rbd.so.1") {
            Ok(_) => panic!("loaded a library that does not exist"),
            Err(reason) => reason,
        };
        let message = load_error(&reason);
        assert!(message.starts_with("librbd is not installed"), "{message}");
        assert!(message.contains("libglint-no-such-rados.so.2"), "{message}");
        assert!(message.contains("librbd1"), "{message}");
    }

    #[test]
    fn errors_name_the_call_and_the_errno() {
        let err = CephError::check("rbd_open", -libc::ENOENT).unwrap_err();
        assert_eq!(err.errno, libc::ENOENT);
        assert!(
            err.to_string().starts_with("rbd_open: No such file"),
            "{err}"
        );
        assert_eq!(CephError::check("rbd_open", 3), Ok(3));
    }
}
