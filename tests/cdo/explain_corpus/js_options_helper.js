/* Source: a public GitHub JScript (WSH) utility library, function sending mail from an
 * options object, found through the code index (stored file id 8843010956; the index does not
 * name the repository). Licence: not stated in the excerpt; quoted for testing. */
function sendMail(options)
{
  // Setup configuration
  var schema = "http://schemas.microsoft.com/cdo/configuration/";

  var config = new ActiveXObject("CDO.Configuration");
  config.Fields.Item(schema + "sendusing") = options.sendUsing || 2;
  config.Fields.Item(schema + "smtpserver") = options.server;
  if (options.port != undefined)
    config.Fields.Item(schema + "smtpserverport") = options.port;
  if (options.usessl != undefined)
    config.Fields.Item(schema + "smtpusessl") = options.usessl;
  if (options.username && options.password) {
    config.Fields.Item(schema + "smtpauthenticate") = 1
    config.Fields.Item(schema + "sendusername") = options.username;
    config.Fields.Item(schema + "sendpassword") = options.password;
  }
  config.Fields.Update();

  // Setup message
  var message = new ActiveXObject("CDO.Message");
  message.Configuration = config;
  message.From          = options.from;
  message.To            = options.to;
  message.Subject       = options.subject;
  message.HTMLBody      = options.body;

  if (options.headers) {
    for (var key in options.headers) {
      var value = options.headers[key];
      message.Fields("urn:schemas:mailheader:" + key) = value;
    }
    message.Fields.Update();
  }
  message.Send();
}
