//! What the use cases tell the notification bus, and when: the events of
//! Glance's `notifier.py`, emitted where the change they report was saved.
//! Payloads are built from the image as stored (every property, whatever
//! the caller may read), never with its locations, and only when the event
//! is enabled.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use glint_model::time::Timestamp;
use glint_model::{Image, ImageId, Member, Task};
use glint_notify::payload::{self, ImageSend};
use glint_notify::{EventType, Notifier, Priority};
use glint_store::{ByteStream, ObjectData, StoreError};

use crate::context::RequestContext;
use crate::error::CoreError;
use crate::images::ImageService;

impl ImageService {
    /// An event whose payload is the image (`format_image_notification`).
    pub(crate) fn notify_image(&self, event: EventType, image: &Image) {
        self.notifier.info(event, || payload::image(image));
    }

    /// `image.delete`, at the time the delete was saved.
    pub(crate) fn notify_deleted(&self, image: &Image, at: Timestamp) {
        (self.notifier).info(EventType::ImageDelete, || payload::deleted_image(image, at));
    }

    /// `image.prepare`, before data is written; `backend` is the store in
    /// multi-store mode.
    pub(crate) fn notify_prepare(&self, image: &Image, backend: Option<&str>) {
        (self.notifier).info(EventType::ImagePrepare, || {
            payload::image_with_import(image, backend)
        });
    }

    /// The events of data stored and the image active, in Glance's order:
    /// `image.upload`, `image.activate`, then the save's `image.update`.
    pub(crate) fn notify_activated(&self, image: &Image) {
        (self.notifier).info(EventType::ImageUpload, || {
            payload::image_with_import(image, None)
        });
        self.notify_image(EventType::ImageActivate, image);
        self.notify_image(EventType::ImageUpdate, image);
    }

    /// `image.upload` at ERROR, whose payload is a text as in Glance.
    pub(crate) fn notify_upload_failed(&self, id: ImageId, error: &CoreError) {
        self.notifier
            .error(EventType::ImageUpload, || upload_failure_text(id, error));
    }

    /// A `task.*` event. Glance sends each before the change it announces,
    /// so the payload shows the task as it was (`task.processing` with the
    /// status `pending`, `task.success` with `processing`).
    pub(crate) fn notify_task(&self, event: EventType, task: &Task) {
        (self.notifier).info(event, || payload::task(task, glint_model::time::now()));
    }

    pub(crate) fn notify_member(&self, event: EventType, member: &Member) {
        self.notifier.info(event, || payload::member(member));
    }

    pub(crate) fn notify_member_deleted(&self, member: &Member, at: Timestamp) {
        (self.notifier).info(EventType::ImageMemberDelete, || {
            payload::deleted_member(member, at)
        });
    }

    /// The download's data, counted as it is sent: `image.send` once it
    /// has all been sent (INFO, or ERROR when the store gave fewer or more
    /// bytes than expected). A download the client abandons sends nothing,
    /// as in Glance.
    /// `data` as it will be sent, counted for `image.send`.
    pub(crate) fn counted(
        &self,
        ctx: &RequestContext,
        image: &Image,
        mut data: ObjectData,
    ) -> ObjectData {
        let expected = match data.range {
            Some(r) => r.end - r.start + 1,
            None => image.size.unwrap_or(data.total_size),
        };
        data.stream = self.counted_for_send(ctx, image, data.stream, expected);
        data
    }

    fn counted_for_send(
        &self,
        ctx: &RequestContext,
        image: &Image,
        data: ByteStream,
        expected: u64,
    ) -> ByteStream {
        if !self.notifier.enabled(EventType::ImageSend) {
            return data;
        }
        let send = ImageSend {
            bytes_sent: 0,
            image_id: image.id,
            owner_id: image.owner.clone(),
            receiver_tenant_id: ctx.project_id().map(str::to_owned),
            receiver_user_id: ctx.user_id().map(str::to_owned),
            destination_ip: None,
        };
        Box::pin(SendCounter {
            inner: data,
            send: Some(send),
            expected,
            notifier: self.notifier.clone(),
        })
    }
}

/// Glance's words for a failed upload, by kind of failure.
fn upload_failure_text(id: ImageId, error: &CoreError) -> String {
    match error {
        CoreError::StorageFull => format!("Image storage media is full: {error}"),
        CoreError::DeletedDuringUpload { .. } => format!(
            "Image {id} could not be found after upload. The image may have been deleted \
             during the upload: {error}"
        ),
        CoreError::StorageQuotaExceeded { .. }
        | CoreError::ImageTooLarge { .. }
        | CoreError::PolicyDenied { .. } => {
            format!("Not allowed to upload image data for image {id}: {error}")
        }
        CoreError::SizeMismatch { .. }
        | CoreError::DataUnreadable(_)
        | CoreError::FormatMismatch { .. }
        | CoreError::UnsafeImage(_)
        | CoreError::Model(_) => format!("Cannot save data for image {id}: {error}"),
        _ => format!("Failed to upload image data for image {id} due to internal error: {error}"),
    }
}

/// Counts the bytes a download yields and sends `image.send` at its end.
struct SendCounter {
    inner: ByteStream,
    /// Taken when the notification is sent.
    send: Option<ImageSend>,
    expected: u64,
    notifier: Notifier,
}

impl Stream for SendCounter {
    type Item = Result<Bytes, StoreError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let next = this.inner.as_mut().poll_next(cx);
        match &next {
            Poll::Ready(Some(Ok(chunk))) => {
                if let Some(send) = this.send.as_mut() {
                    send.bytes_sent += chunk.len() as u64;
                    // Sent as the last chunk leaves: the server need not ask
                    // for more once it has the length it announced.
                    if send.bytes_sent >= this.expected {
                        this.finish();
                    }
                }
            }
            // A failed read ends the download without a notification, as
            // an exception does in Glance.
            Poll::Ready(Some(Err(_))) => this.send = None,
            Poll::Ready(None) => this.finish(),
            Poll::Pending => {}
        }
        next
    }
}

impl SendCounter {
    /// `image.send`: INFO when exactly the expected bytes were sent, ERROR
    /// otherwise. Once.
    fn finish(&mut self) {
        let Some(send) = self.send.take() else {
            return;
        };
        let priority = if send.bytes_sent == self.expected {
            Priority::Info
        } else {
            Priority::Error
        };
        (self.notifier).emit(EventType::ImageSend, priority, || {
            payload::image_send(&send)
        });
    }
}
