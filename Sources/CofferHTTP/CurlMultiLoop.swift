import Foundation
import Synchronization
internal import CCurl
internal import CCurlShims

/// The thread that owns a curl multi handle: it adds submitted transfers, drives them, and completes them.
///
/// Only `submit` and `stop` are called from other threads; they touch the inbox under a lock and wake the loop with
/// `curl_multi_wakeup`, the one multi call that is thread-safe.
final class CurlMultiLoop: @unchecked Sendable {
    private struct Inbox {
        var pending: [CurlTransfer] = []
        var stopped = false
    }

    private let multi: UnsafeMutableRawPointer
    private let inbox = Mutex(Inbox())
    private let finished = DispatchSemaphore(value: 0)
    private var active: [UnsafeMutableRawPointer: CurlTransfer] = [:]  // loop thread only

    init(maxConnectionsPerHost: Int) {
        guard let handle = curl_multi_init() else { fatalError("curl_multi_init failed (out of memory)") }
        multi = handle
        _ = coffer_curl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, maxConnectionsPerHost)
        _ = coffer_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, maxConnectionsPerHost * 2)
        let thread = Thread { [self] in run() }
        thread.name = "coffer-curl"
        thread.start()
    }

    /// Hands a transfer to the loop thread.
    func submit(_ transfer: CurlTransfer) {
        let accepted = inbox.withLock { state -> Bool in
            if state.stopped { return false }
            state.pending.append(transfer)
            return true
        }
        if accepted {
            curl_multi_wakeup(multi)
        } else {
            transfer.complete(.failure(.other("the HTTP transport has been shut down")))
        }
    }

    /// Ends the loop; transfers in flight fail. Waits until the thread has let go of the multi handle.
    func stop() {
        let first = inbox.withLock { state -> Bool in
            defer { state.stopped = true }
            return !state.stopped
        }
        guard first else { return }
        curl_multi_wakeup(multi)
        finished.wait()
        curl_multi_cleanup(multi)
    }

    private func run() {
        var running: Int32 = 0
        while true {
            let (newTransfers, stopped) = inbox.withLock { state in
                defer { state.pending.removeAll() }
                return (state.pending, state.stopped)
            }
            if stopped {
                for transfer in newTransfers { transfer.complete(.failure(.other("the HTTP transport was shut down"))) }
                for (easy, transfer) in active {
                    curl_multi_remove_handle(multi, easy)
                    transfer.complete(.failure(.other("the HTTP transport was shut down")))
                }
                active.removeAll()
                finished.signal()
                return
            }
            for transfer in newTransfers {
                let code = curl_multi_add_handle(multi, transfer.easy)
                if code == CURLM_OK {
                    active[transfer.easy] = transfer
                } else {
                    transfer.complete(.failure(.other("curl_multi_add_handle failed with code \(code.rawValue)")))
                }
            }
            curl_multi_perform(multi, &running)
            var easy: UnsafeMutableRawPointer?
            var result = CURLE_OK
            while coffer_curl_multi_next_done(multi, &easy, &result) == 1 {
                guard let handle = easy, let transfer = active.removeValue(forKey: handle) else { continue }
                curl_multi_remove_handle(multi, handle)
                transfer.finish(result)
            }
            curl_multi_poll(multi, nil, 0, 1000, nil)
        }
    }
}
